import ChuteCore
import ChuteStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The built-in queues over SQS's JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.*`), for the aws CLI
/// and boto3: create, find, list, delete, send, receive (long polling, visibility timeout,
/// attributes) and delete messages, with SQS's MD5 digests.
struct SQSAPI: Sendable {
    let store: any AsyncEventStore
    let accountID: String
    let clock: @Sendable () -> Int64
    static let namespace = "com.amazonaws.sqs"
    /// SQS's message size limit (1 MiB since 2025).
    static let maximumMessageBytes = 1_048_576

    func register(on router: Router<BasicRequestContext>) {
        router.post("/") { request, _ in await handle(request) }
    }

    private func handle(_ request: Request) async -> Response {
        do {
            guard let target = request.headers[HTTPField.Name("X-Amz-Target")!], target.hasPrefix("AmazonSQS.") else {
                throw ServiceError(type: "UnknownOperationException", message: "expected an X-Amz-Target header of AmazonSQS.OPERATION")
            }
            var request = request
            let body: ByteBuffer
            do {
                // The JSON envelope of a largest message, escaped, fits in three times its size.
                body = try await request.collectBody(upTo: 3 * Self.maximumMessageBytes + 64 * 1024)
            } catch {
                throw Self.tooLarge
            }
            let input = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
            let base = "http://\(request.head.authority ?? "127.0.0.1")/\(accountID)/"
            switch target.dropFirst("AmazonSQS.".count) {
            case "CreateQueue":
                let name = try string(input, "QueueName")
                guard QueueName.isValid(name) else {
                    throw ServiceError(type: "InvalidParameterValue",
                                       message: "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
                }
                try await store.createQueue(name)
                return AWSResponse.json(["QueueUrl": base + name])
            case "GetQueueUrl":
                let name = try string(input, "QueueName")
                try await requireQueue(name)
                return AWSResponse.json(["QueueUrl": base + name])
            case "ListQueues":
                let prefix = input["QueueNamePrefix"] as? String ?? ""
                let names = try await store.queueNames().filter { $0.hasPrefix(prefix) }
                return AWSResponse.json(["QueueUrls": names.map { base + $0 }])
            case "DeleteQueue":
                let name = try queueName(input)
                try await requireQueue(name)
                try await store.deleteQueue(name)
                return AWSResponse.json([String: String]())
            case "SendMessage":
                let name = try queueName(input)
                try await requireQueue(name)
                let bodyText = try string(input, "MessageBody")
                guard bodyText.utf8.count <= Self.maximumMessageBytes else { throw Self.tooLarge }
                let attributes = try Self.attributes(input["MessageAttributes"])
                let id = try await store.send([QueueMessage(body: Array(bodyText.utf8), attributes: attributes)], to: name, now: clock())
                var output = ["MessageId": id.first ?? "", "MD5OfMessageBody": Self.md5(Array(bodyText.utf8))]
                if !attributes.isEmpty { output["MD5OfMessageAttributes"] = Self.md5OfAttributes(attributes) }
                return AWSResponse.json(output)
            case "ReceiveMessage":
                let name = try queueName(input)
                try await requireQueue(name)
                let limit = input["MaxNumberOfMessages"] as? Int ?? 1
                guard (1...10).contains(limit) else {
                    throw ServiceError(type: "InvalidParameterValue",
                                       message: "Value \(limit) for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
                }
                let visibilitySeconds = input["VisibilityTimeout"] as? Int ?? 30
                guard (0...43_200).contains(visibilitySeconds) else {
                    throw ServiceError(type: "InvalidParameterValue",
                                       message: "Value \(visibilitySeconds) for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.")
                }
                let visibility = Int64(visibilitySeconds) * 1000
                let wait = input["WaitTimeSeconds"] as? Int ?? 0
                guard (0...20).contains(wait) else {
                    throw ServiceError(type: "InvalidParameterValue",
                                       message: "Value \(wait) for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.")
                }
                let wantsAttributes = !((input["AttributeNames"] as? [String]) ?? (input["MessageSystemAttributeNames"] as? [String]) ?? []).isEmpty
                let wantsMessageAttributes = !((input["MessageAttributeNames"] as? [String]) ?? []).isEmpty
                let deadline = clock() + Int64(wait) * 1000
                var received = try await store.receive(from: name, limit: limit, visibilityMilliseconds: visibility, now: clock())
                while received.isEmpty && clock() < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                    received = try await store.receive(from: name, limit: limit, visibilityMilliseconds: visibility, now: clock())
                }
                let messages = received.map { message -> [String: Any] in
                    var output: [String: Any] = [
                        "MessageId": message.messageID, "ReceiptHandle": message.receiptHandle,
                        "MD5OfBody": Self.md5(message.message.body), "Body": String(decoding: message.message.body, as: UTF8.self),
                    ]
                    if wantsAttributes {
                        output["Attributes"] = ["ApproximateReceiveCount": String(message.receiveCount),
                                                "SentTimestamp": String(message.sentAtMilliseconds)]
                    }
                    if wantsMessageAttributes && !message.message.attributes.isEmpty {
                        output["MessageAttributes"] = Dictionary(uniqueKeysWithValues: message.message.attributes.map {
                            ($0.name, ["DataType": $0.dataType, "StringValue": $0.value])
                        })
                        output["MD5OfMessageAttributes"] = Self.md5OfAttributes(message.message.attributes)
                    }
                    return output
                }
                return try Self.jsonObject(messages.isEmpty ? [:] : ["Messages": messages])
            case "DeleteMessage":
                let name = try queueName(input)
                let handle = try string(input, "ReceiptHandle")
                guard try await store.delete(from: name, receiptHandle: handle) else {
                    throw ServiceError(type: "ReceiptHandleIsInvalid", message: "The input receipt handle \"\(handle)\" is not a valid receipt handle.")
                }
                return AWSResponse.json([String: String]())
            case let operation:
                throw ServiceError(type: "InvalidAction", message: "The action \(operation) is not valid for this endpoint.")
            }
        } catch let error as ServiceError {
            return AWSResponse.jsonProtocolError(error, namespace: Self.namespace)
        } catch {
            return AWSResponse.jsonProtocolError(ServiceError(type: "InternalError", message: "\(error)", statusCode: 500), namespace: Self.namespace)
        }
    }

    static let tooLarge = ServiceError(
        type: "InvalidParameterValue",
        message: "One or more parameters are invalid. Reason: Message must be shorter than \(maximumMessageBytes) bytes.")

    private func string(_ input: [String: Any], _ field: String) throws -> String {
        guard let value = input[field] as? String else {
            throw ServiceError(type: "MissingParameter", message: "The request must contain the parameter \(field).")
        }
        return value
    }

    /// The queue name at the end of a `QueueUrl`.
    private func queueName(_ input: [String: Any]) throws -> String {
        let url = try string(input, "QueueUrl")
        return String(url.split(separator: "/").last ?? "")
    }

    private func requireQueue(_ name: String) async throws {
        guard try await store.queueExists(name) else {
            throw ServiceError(type: "QueueDoesNotExist", message: "The specified queue does not exist.")
        }
    }

    private static func attributes(_ value: Any?) throws -> [MessageAttribute] {
        guard let map = value as? [String: Any] else { return [] }
        return try map.keys.sorted().map { name in
            guard let fields = map[name] as? [String: Any], let type = fields["DataType"] as? String,
                  let text = fields["StringValue"] as? String else {
                throw ServiceError(type: "InvalidParameterValue", message: "The message attribute '\(name)' needs a DataType and a StringValue.")
            }
            return MessageAttribute(name: name, dataType: type, value: text)
        }
    }

    private static func jsonObject(_ value: [String: Any]) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        return AWSResponse.bytes(Array(data), contentType: "application/x-amz-json-1.0")
    }

    static func md5(_ bytes: [UInt8]) -> String {
        Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// SQS's digest of message attributes: for each attribute by name, the length-prefixed name,
    /// data type, a transport byte (1 for strings and numbers) and the length-prefixed value.
    static func md5OfAttributes(_ attributes: [MessageAttribute]) -> String {
        var bytes: [UInt8] = []
        func append(_ text: String) {
            let utf8 = Array(text.utf8)
            withUnsafeBytes(of: UInt32(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        for attribute in attributes.sorted(by: { $0.name < $1.name }) {
            append(attribute.name)
            append(attribute.dataType)
            bytes.append(1)
            append(attribute.value)
        }
        return md5(bytes)
    }
}
