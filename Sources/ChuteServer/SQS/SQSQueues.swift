import ChuteCore
import ChuteStore

/// SQS queue operations: create, find, list, delete, attributes, purge.
extension SQSAPI {
    func createQueue(_ input: SQSInput, baseURL: String) async throws -> [String: Any] {
        let name = try input.string("QueueName")
        guard QueueName.isValid(name) else {
            throw ServiceError(type: "InvalidParameterValue",
                               message: "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
        }
        let requested = try input.stringMap("Attributes")
        let attributes = try await validated(requested, over: QueueAttributes(), queue: name)
        let queue = try await store.createQueue(name, attributes: attributes, now: clock())
        // Re-creating a queue is fine unless the request asks for other attributes than it has.
        if !requested.isEmpty && queue.attributes != attributes {
            throw ServiceError(type: "QueueNameExists",
                               message: "A queue already exists with the same name and a different value for attribute(s) \(requested.keys.sorted().joined(separator: ", ")).")
        }
        return ["QueueUrl": baseURL + name]
    }

    func getQueueURL(_ input: SQSInput, baseURL: String) async throws -> [String: Any] {
        let name = try input.string("QueueName")
        guard try await store.queueExists(name) else { throw Self.queueDoesNotExist }
        return ["QueueUrl": baseURL + name]
    }

    func listQueues(_ input: SQSInput, baseURL: String) async throws -> [String: Any] {
        let prefix = try input.fields.string("QueueNamePrefix") ?? ""
        let limit = try input.integer("MaxResults", in: 1...1_000) ?? 1_000
        let names = try await store.queueNames().filter { $0.hasPrefix(prefix) }.prefix(limit)
        return names.isEmpty ? [:] : ["QueueUrls": names.map { baseURL + $0 }]
    }

    func deleteQueue(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        try await store.deleteQueue(queue.name)
        return [:]
    }

    func purgeQueue(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        try await store.purgeQueue(queue.name)
        return [:]
    }

    func getQueueAttributes(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input, counted: true)
        var all = queue.attributes.strings(region: region, accountID: accountID)
        all["QueueArn"] = QueueAttributes.queueArn(queue.name, region: region, accountID: accountID)
        all["ApproximateNumberOfMessages"] = String(queue.visibleMessages)
        all["ApproximateNumberOfMessagesNotVisible"] = String(queue.inFlightMessages)
        all["ApproximateNumberOfMessagesDelayed"] = String(queue.delayedMessages)
        all["CreatedTimestamp"] = String(queue.createdAtMilliseconds / 1000)
        all["LastModifiedTimestamp"] = String(queue.modifiedAtMilliseconds / 1000)
        all["SqsManagedSseEnabled"] = "false"
        let names = try input.strings("AttributeNames")
        if names.contains("All") { return ["Attributes": all] }
        var chosen: [String: String] = [:]
        for name in names {
            guard let value = all[name] else {
                // A settable attribute the queue has no value for (no redrive policy) is left out.
                guard QueueAttributes.settableNames.contains(name) else {
                    throw ServiceError(type: "InvalidAttributeName", message: "Unknown Attribute \(name).")
                }
                continue
            }
            chosen[name] = value
        }
        return chosen.isEmpty ? [:] : ["Attributes": chosen]
    }

    func setQueueAttributes(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        let attributes = try await validated(try input.stringMap("Attributes"), over: queue.attributes, queue: queue.name)
        try await store.setQueueAttributes(queue.name, attributes, now: clock())
        return [:]
    }

    /// `requested` applied over `base`, with a redrive policy's dead-letter queue required to exist.
    private func validated(_ requested: [String: String], over base: QueueAttributes, queue: String) async throws -> QueueAttributes {
        var attributes = base
        try attributes.apply(requested, region: region, accountID: accountID)
        if let policy = attributes.redrivePolicy, policy != base.redrivePolicy {
            guard policy.deadLetterQueue != queue, try await store.queueExists(policy.deadLetterQueue) else {
                throw ServiceError(type: "InvalidParameterValue",
                                   message: "Value \(requested["RedrivePolicy"] ?? "") for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.")
            }
        }
        return attributes
    }
}
