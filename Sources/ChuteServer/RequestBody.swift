import ChuteCore
import Hummingbird
import NIOCore

/// Reads request bodies up to an operation's limit. Past the limit the answer is the service's
/// 413, never the HTTP server's own error (which would be a 500).
enum RequestBody {
    static func tooLarge(_ limit: Int) -> ServiceError {
        ServiceError(type: "RequestEntityTooLargeException",
                     message: "Request must be smaller than \(limit) bytes for this operation", statusCode: 413)
    }

    static func collect(_ request: Request, upTo limit: Int, tooLarge: ServiceError? = nil) async throws(ServiceError) -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch {
            throw tooLarge ?? Self.tooLarge(limit)
        }
    }
}
