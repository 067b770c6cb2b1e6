import ChuteCore
import ChuteStore
import Crypto
import Foundation

/// SQS's MD5 digests, which clients (boto3, the aws CLI) check on every send and receive.
enum SQSDigest {
    static func md5(_ bytes: [UInt8]) -> String {
        Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The digest of message attributes: for each attribute by name, the length-prefixed name,
    /// data type, a transport byte (1 for strings and numbers) and the length-prefixed value.
    static func attributes(_ attributes: [MessageAttribute]) -> String {
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
