import ChuteCore
import ChuteStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The built-in queues over SQS's JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.*`), for the aws CLI
/// and boto3. Queue operations are in SQSQueues.swift, message operations in SQSMessages.swift.
struct SQSAPI: Sendable {
    let store: any AsyncEventStore
    let region: String
    let accountID: String
    let clock: @Sendable () -> Int64
    /// Told the queue's name after messages were sent (wakes the mappings reading it).
    var messagesSent: @Sendable (String) -> Void = { _ in }
    static let namespace = "com.amazonaws.sqs"
    /// SQS's message size limit (1 MiB since 2025).
    static let maximumMessageBytes = 1_048_576

    func handle(_ request: Request) async -> Response {
        do {
            guard let target = request.headers[AWSResponse.targetHeader], target.hasPrefix("AmazonSQS.") else {
                throw ServiceError(type: "UnknownOperationException", message: "expected an X-Amz-Target header of AmazonSQS.OPERATION")
            }
            var request = request
            let body: ByteBuffer
            do {
                // A batch of ten largest messages, JSON-escaped, fits in three times their size.
                body = try await request.collectBody(upTo: 3 * Self.maximumMessageBytes + 64 * 1024)
            } catch {
                throw Self.tooLarge(Self.maximumMessageBytes)
            }
            let input = SQSInput((try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:])
            let baseURL = "http://\(request.head.authority ?? "127.0.0.1")/\(accountID)/"
            let output: [String: Any]
            switch target.dropFirst("AmazonSQS.".count) {
            case "CreateQueue": output = try await createQueue(input, baseURL: baseURL)
            case "GetQueueUrl": output = try await getQueueURL(input, baseURL: baseURL)
            case "ListQueues": output = try await listQueues(input, baseURL: baseURL)
            case "DeleteQueue": output = try await deleteQueue(input)
            case "GetQueueAttributes": output = try await getQueueAttributes(input)
            case "SetQueueAttributes": output = try await setQueueAttributes(input)
            case "PurgeQueue": output = try await purgeQueue(input)
            case "SendMessage": output = try await sendMessage(input)
            case "SendMessageBatch": output = try await sendMessageBatch(input)
            case "ReceiveMessage": output = try await receiveMessage(input)
            case "DeleteMessage": output = try await deleteMessage(input)
            case "DeleteMessageBatch": output = try await deleteMessageBatch(input)
            case "ChangeMessageVisibility": output = try await changeMessageVisibility(input)
            case "ChangeMessageVisibilityBatch": output = try await changeMessageVisibilityBatch(input)
            case let operation:
                throw ServiceError(type: "InvalidAction", message: "The action \(operation) is not valid for this endpoint.")
            }
            let data = try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys])
            return AWSResponse.bytes(Array(data), contentType: "application/x-amz-json-1.0")
        } catch let error as ServiceError {
            return AWSResponse.jsonProtocolError(error, namespace: Self.namespace)
        } catch {
            return AWSResponse.jsonProtocolError(ServiceError(type: "InternalError", message: "\(error)", statusCode: 500), namespace: Self.namespace)
        }
    }

    static func tooLarge(_ limit: Int) -> ServiceError {
        ServiceError(type: "InvalidParameterValue",
                     message: "One or more parameters are invalid. Reason: Message must be shorter than \(limit) bytes.")
    }

    static let queueDoesNotExist = ServiceError(type: "QueueDoesNotExist", message: "The specified queue does not exist.")

    /// The queue named by `QueueUrl`; its message counts only when `counted` (they cost a scan).
    func existingQueue(_ input: SQSInput, counted: Bool = false) async throws -> QueueState {
        let name = try input.queueName()
        let queue = counted ? try await store.queue(name, now: clock()) : try await store.queueSettings(name)
        guard let queue else { throw Self.queueDoesNotExist }
        return queue
    }
}
