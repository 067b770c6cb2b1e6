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

    /// A batch of ten largest messages, JSON-escaped, fits in three times their size.
    static let json = JSONProtocol(namespace: namespace, contentType: "application/x-amz-json-1.0", internalErrorType: "InternalError",
                                   bodyLimit: 3 * maximumMessageBytes + 64 * 1024, tooLarge: tooLarge(maximumMessageBytes))

    func handle(_ request: Request) async -> Response {
        guard let target = request.headers[AWSResponse.targetHeader], target.hasPrefix("AmazonSQS.") else {
            return Self.json.error(ServiceError(type: "UnknownOperationException", message: "expected an X-Amz-Target header of AmazonSQS.OPERATION"))
        }
        let baseURL = "http://\(request.head.authority ?? "127.0.0.1")/\(accountID)/"
        return await Self.json.respond(to: request) { fields in
            let input = SQSInput(fields)
            switch target.dropFirst("AmazonSQS.".count) {
            case "CreateQueue": return try await createQueue(input, baseURL: baseURL)
            case "GetQueueUrl": return try await getQueueURL(input, baseURL: baseURL)
            case "ListQueues": return try await listQueues(input, baseURL: baseURL)
            case "DeleteQueue": return try await deleteQueue(input)
            case "GetQueueAttributes": return try await getQueueAttributes(input)
            case "SetQueueAttributes": return try await setQueueAttributes(input)
            case "PurgeQueue": return try await purgeQueue(input)
            case "SendMessage": return try await sendMessage(input)
            case "SendMessageBatch": return try await sendMessageBatch(input)
            case "ReceiveMessage": return try await receiveMessage(input)
            case "DeleteMessage": return try await deleteMessage(input)
            case "DeleteMessageBatch": return try await deleteMessageBatch(input)
            case "ChangeMessageVisibility": return try await changeMessageVisibility(input)
            case "ChangeMessageVisibilityBatch": return try await changeMessageVisibilityBatch(input)
            case let operation:
                throw ServiceError(type: "InvalidAction", message: "The action \(operation) is not valid for this endpoint.")
            }
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
