import ChuteCore
import Foundation
import Hummingbird
import NIOCore

/// AWS's JSON protocols (SQS's 1.0, EventBridge's and Kinesis's 1.1), shared by their APIs: the
/// body read up to the service's limit and parsed as an object (`SerializationException` for
/// anything else), the operation's output written as JSON with sorted keys, and every error as
/// `{"__type":"NAMESPACE#TYPE","message":…}`.
struct JSONProtocol: Sendable {
    var namespace: String
    /// `application/x-amz-json-1.0` or `-1.1`.
    var contentType: String
    /// The service's name for an unexpected failure (`InternalError`, `InternalException`, …).
    var internalErrorType: String
    var bodyLimit: Int
    /// What a body over the limit answers.
    var tooLarge: ServiceError

    func respond(to request: Request, _ operation: (RequestFields) async throws -> [String: Any]) async -> Response {
        do {
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: bodyLimit)
            } catch {
                // The rest of the body is left unread: closing the connection stops the client sending it.
                var response = self.error(tooLarge)
                response.headers[.connection] = "close"
                return response
            }
            let fields = try RequestFields(body: body.readableBytesView)
            let data = try JSONSerialization.data(withJSONObject: try await operation(fields), options: [.sortedKeys])
            return AWSResponse.bytes(Array(data), contentType: contentType)
        } catch let error as ServiceError {
            return self.error(error)
        } catch {
            return self.error(ServiceError(type: internalErrorType, message: "\(error)", statusCode: 500))
        }
    }

    func error(_ error: ServiceError) -> Response {
        AWSResponse.jsonProtocolError(error, namespace: namespace)
    }
}
