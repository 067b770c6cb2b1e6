import ChuteCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Responses in the shapes AWS clients parse.
enum AWSResponse {
    static let errorTypeHeader = HTTPField.Name("x-amzn-ErrorType")!
    static let requestIDHeader = HTTPField.Name("x-amzn-RequestId")!
    static let invocationTypeHeader = HTTPField.Name("X-Amz-Invocation-Type")!
    static let executedVersionHeader = HTTPField.Name("X-Amz-Executed-Version")!
    static let logTypeHeader = HTTPField.Name("X-Amz-Log-Type")!
    static let logResultHeader = HTTPField.Name("X-Amz-Log-Result")!
    static let functionErrorHeader = HTTPField.Name("X-Amz-Function-Error")!
    static let targetHeader = HTTPField.Name("X-Amz-Target")!

    /// A JSON body with `status`.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return bytes(Array(data), status: status, headers: headers, contentType: "application/json")
    }

    static func bytes(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:],
                      contentType: String = "application/json") -> Response {
        var fields = headers
        fields[.contentType] = contentType
        // A body too large is left unread: closing the connection stops the client sending it.
        if status.code == 413 { fields[.connection] = "close" }
        if fields[requestIDHeader] == nil { fields[requestIDHeader] = RequestID.make() }
        return Response(status: .init(code: status.code), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A REST-JSON error (Lambda): `x-amzn-ErrorType` and `{"Type":"User","message":…}`.
    static func restError(_ error: ServiceError) -> Response {
        json(["Type": error.statusCode >= 500 ? "Service" : "User", "message": error.message],
             status: .init(code: error.statusCode), headers: [errorTypeHeader: error.type])
    }

    /// A JSON 1.0 error (SQS): `{"__type":"com.amazonaws.sqs#TYPE","message":…}`.
    static func jsonProtocolError(_ error: ServiceError, namespace: String) -> Response {
        json(["__type": "\(namespace)#\(error.type)", "message": error.message],
             status: .init(code: error.statusCode), headers: [errorTypeHeader: error.type])
    }
}

/// Lambda's REST-JSON APIs: a thrown `ServiceError` is answered as Lambda's error, anything else
/// as a 500 `ServiceException`.
protocol RESTJSONResponder {}

extension RESTJSONResponder {
    func respond(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as ServiceError {
            return AWSResponse.restError(error)
        } catch {
            return AWSResponse.restError(ServiceError(type: "ServiceException", message: "\(error)", statusCode: 500))
        }
    }
}
