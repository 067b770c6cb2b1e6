import ChuteCore
import Foundation
import Logging

/// One JSON object per log line on standard error — `{"timestamp":…,"level":…,"label":…,
/// "message":…,"requestId":…,"function":…}` — for log pipelines that index fields.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    private static let output = FileHandle.standardError

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        var members: [(String, String)] = [
            ("timestamp", JSONText.quote(Timestamps.iso8601(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded())))),
            ("level", JSONText.quote(event.level.rawValue)),
            ("label", JSONText.quote(label)),
            ("message", JSONText.quote("\(event.message)")),
        ]
        if let error = event.error { members.append(("error", JSONText.quote("\(error)"))) }
        for key in merged.keys.sorted() { members.append((key, JSONText.quote("\(merged[key]!)"))) }
        Self.output.write(Data((JSONText.object(members) + "\n").utf8))
    }
}
