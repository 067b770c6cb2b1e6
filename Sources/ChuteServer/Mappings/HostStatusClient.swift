import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Reads a running host's `GET /chute/mappings`, for `chute mappings status`.
public enum HostStatusClient {
    public static func mappings(at baseURL: String) async throws -> [UInt8] {
        let request = HTTPClientRequest(url: baseURL + "/chute/mappings")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 * 1_048_576)
        guard response.status == .ok else {
            throw HostStatusError(message: "\(baseURL)/chute/mappings answered \(response.status.code)")
        }
        return Array(body.readableBytesView)
    }
}

public struct HostStatusError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
