import ChuteCore
import ChuteStore

/// SQS message operations: send, receive (long polling), delete and change visibility, alone and
/// in batches of up to ten.
extension SQSAPI {
    func sendMessage(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        let message = try Self.message(input, queue: queue)
        let id = try await store.send([message], to: queue.name, now: clock())
        messagesSent(queue.name)
        return Self.sent(message, id: id.first ?? "")
    }

    func sendMessageBatch(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        let entries = try input.batchEntries("SendMessageBatchRequestEntry")
        var accepted: [(id: String, message: QueueMessage)] = []
        var failed: [[String: Any]] = []
        for entry in entries {
            let id = try entry.string("Id")
            do {
                accepted.append((id, try Self.message(entry, queue: queue)))
            } catch let error as ServiceError {
                failed.append(["Id": id, "SenderFault": true, "Code": error.type, "Message": error.message])
            }
        }
        let total = accepted.reduce(0) { $0 + Self.size(of: $1.message) }
        guard total <= queue.attributes.maximumMessageBytes else {
            throw ServiceError(type: "BatchRequestTooLong",
                               message: "Batch requests cannot be longer than \(queue.attributes.maximumMessageBytes) bytes. You have sent \(total) bytes.")
        }
        let ids = try await store.send(accepted.map(\.message), to: queue.name, now: clock())
        messagesSent(queue.name)
        let successful = zip(accepted, ids).map { entry, messageID in
            Self.sent(entry.message, id: messageID).merging(["Id": entry.id]) { $1 }
        }
        return ["Successful": successful, "Failed": failed]
    }

    func receiveMessage(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        let limit = try input.integer("MaxNumberOfMessages", in: 1...10) ?? 1
        let visibility = try input.integer("VisibilityTimeout", in: 0...43_200).map { Int64($0) * 1000 }
        let wait = try input.integer("WaitTimeSeconds", in: 0...20) ?? queue.attributes.receiveWaitSeconds
        let systemAttributes = Set(try input.strings("AttributeNames") + input.strings("MessageSystemAttributeNames"))
        let messageAttributes = try input.strings("MessageAttributeNames")
        let deadline = clock() + Int64(wait) * 1000
        var received = try await store.receive(from: queue.name, limit: limit, visibilityMilliseconds: visibility, now: clock())
        // Long polling: look again until something arrives or the wait is over.
        while received.isEmpty && clock() < deadline {
            try await Task.sleep(for: .milliseconds(20))
            received = try await store.receive(from: queue.name, limit: limit, visibilityMilliseconds: visibility, now: clock())
        }
        guard !received.isEmpty else { return [:] }
        return ["Messages": received.map { Self.output($0, systemAttributes: systemAttributes, messageAttributes: messageAttributes) }]
    }

    func deleteMessage(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        let handle = try input.string("ReceiptHandle")
        guard try await store.delete(from: queue.name, receiptHandle: handle) else { throw Self.invalidReceiptHandle(handle) }
        return [:]
    }

    func deleteMessageBatch(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        var successful: [[String: Any]] = []
        var failed: [[String: Any]] = []
        for entry in try input.batchEntries("DeleteMessageBatchRequestEntry") {
            let id = try entry.string("Id")
            let handle = try entry.string("ReceiptHandle")
            if try await store.delete(from: queue.name, receiptHandle: handle) {
                successful.append(["Id": id])
            } else {
                let error = Self.invalidReceiptHandle(handle)
                failed.append(["Id": id, "SenderFault": true, "Code": error.type, "Message": error.message])
            }
        }
        return ["Successful": successful, "Failed": failed]
    }

    func changeMessageVisibility(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        try await changeVisibility(input, queue: queue)
        return [:]
    }

    func changeMessageVisibilityBatch(_ input: SQSInput) async throws -> [String: Any] {
        let queue = try await existingQueue(input)
        var successful: [[String: Any]] = []
        var failed: [[String: Any]] = []
        for entry in try input.batchEntries("ChangeMessageVisibilityBatchRequestEntry") {
            let id = try entry.string("Id")
            do {
                try await changeVisibility(entry, queue: queue)
                successful.append(["Id": id])
            } catch let error as ServiceError {
                failed.append(["Id": id, "SenderFault": true, "Code": error.type, "Message": error.message])
            }
        }
        return ["Successful": successful, "Failed": failed]
    }

    private func changeVisibility(_ input: SQSInput, queue: QueueState) async throws {
        let handle = try input.string("ReceiptHandle")
        guard let seconds = try input.integer("VisibilityTimeout", in: 0...43_200) else {
            throw ServiceError(type: "MissingParameter", message: "The request must contain the parameter VisibilityTimeout.")
        }
        switch try await store.changeVisibility(in: queue.name, receiptHandle: handle, visibilityMilliseconds: Int64(seconds) * 1000, now: clock()) {
        case .changed: return
        case .notInFlight:
            throw ServiceError(type: "MessageNotInflight", message: "The message referred to by the receipt handle \(handle) is not in flight.")
        case .invalidReceiptHandle: throw Self.invalidReceiptHandle(handle)
        }
    }

    // MARK: Shapes

    /// The message a send entry describes, checked against the queue's size limit.
    private static func message(_ input: SQSInput, queue: QueueState) throws -> QueueMessage {
        let body = try input.string("MessageBody")
        guard !body.isEmpty else {
            throw ServiceError(type: "MissingParameter", message: "The request must contain the parameter MessageBody.")
        }
        let message = QueueMessage(body: Array(body.utf8), attributes: try attributes(input.fields.members["MessageAttributes"]),
                                   delaySeconds: try input.integer("DelaySeconds", in: 0...900))
        guard size(of: message) <= queue.attributes.maximumMessageBytes else { throw tooLarge(queue.attributes.maximumMessageBytes) }
        return message
    }

    /// A message's size as SQS counts it: body plus attribute names, types and values.
    private static func size(of message: QueueMessage) -> Int {
        message.body.count + message.attributes.reduce(0) { $0 + $1.name.utf8.count + $1.dataType.utf8.count + $1.value.utf8.count }
    }

    private static func sent(_ message: QueueMessage, id: String) -> [String: Any] {
        var output: [String: Any] = ["MessageId": id, "MD5OfMessageBody": SQSDigest.md5(message.body)]
        if !message.attributes.isEmpty { output["MD5OfMessageAttributes"] = SQSDigest.attributes(message.attributes) }
        return output
    }

    private static func output(_ message: ReceivedMessage, systemAttributes: Set<String>, messageAttributes: [String]) -> [String: Any] {
        var output: [String: Any] = [
            "MessageId": message.messageID, "ReceiptHandle": message.receiptHandle,
            "MD5OfBody": SQSDigest.md5(message.message.body), "Body": String(decoding: message.message.body, as: UTF8.self),
        ]
        let all: [String: String] = [
            "ApproximateReceiveCount": String(message.receiveCount),
            "SentTimestamp": String(message.sentAtMilliseconds),
            "ApproximateFirstReceiveTimestamp": String(message.firstReceivedAtMilliseconds),
            "SenderId": FunctionConfiguration.defaultAccountID,
        ]
        let chosen = systemAttributes.contains("All") ? all : all.filter { systemAttributes.contains($0.key) }
        if !chosen.isEmpty { output["Attributes"] = chosen }
        let wanted = WantedAttributes(messageAttributes)
        let attributes = message.message.attributes.filter(wanted.includes)
        if !attributes.isEmpty {
            output["MessageAttributes"] = Dictionary(uniqueKeysWithValues: attributes.map {
                ($0.name, ["DataType": $0.dataType, "StringValue": $0.value])
            })
            output["MD5OfMessageAttributes"] = SQSDigest.attributes(attributes)
        }
        return output
    }

    /// `MessageAttributeNames` as a receive gives them: `All` or `.*`, names, and `PREFIX.*`;
    /// looked up in a set, so many names against many attributes stay cheap.
    struct WantedAttributes {
        var all = false
        var names: Set<String> = []
        var prefixes: [Substring] = []

        init(_ list: [String]) {
            for wanted in list {
                if wanted == "All" || wanted == ".*" {
                    all = true
                } else if wanted.hasSuffix(".*") {
                    prefixes.append(wanted.dropLast(1))
                } else {
                    names.insert(wanted)
                }
            }
        }

        func includes(_ attribute: MessageAttribute) -> Bool {
            all || names.contains(attribute.name) || prefixes.contains { attribute.name.hasPrefix($0) }
        }
    }

    private static func attributes(_ value: Any?) throws -> [MessageAttribute] {
        guard let map = value as? [String: Any] else { return [] }
        guard map.count <= MessageAttribute.maximumCount else {
            throw ServiceError(type: "InvalidParameterValue",
                               message: "Number of message attributes [\(map.count)] exceeds the allowed maximum [\(MessageAttribute.maximumCount)].")
        }
        for name in map.keys {
            if let problem = MessageAttribute.nameProblem(name) {
                throw ServiceError(type: "InvalidParameterValue", message: "Message attribute name '\(name.prefix(300))' is invalid: \(problem).")
            }
        }
        return try map.keys.sorted().map { name in
            guard let fields = map[name] as? [String: Any], let type = fields["DataType"] as? String,
                  let text = fields["StringValue"] as? String else {
                throw ServiceError(type: "InvalidParameterValue",
                                   message: "The message attribute '\(name)' needs a DataType and a StringValue (binary attributes are not supported).")
            }
            if type.hasPrefix("Number"), !MessageAttribute.isValidNumber(text) {
                throw ServiceError(type: "InvalidParameterValue",
                                   message: "Value \(text.prefix(64)) of message attribute '\(name)' is not a valid number.")
            }
            return MessageAttribute(name: name, dataType: type, value: text)
        }
    }

    private static func invalidReceiptHandle(_ handle: String) -> ServiceError {
        ServiceError(type: "ReceiptHandleIsInvalid", message: "The input receipt handle \"\(handle)\" is not a valid receipt handle.")
    }
}
