import ChuteCore
import ChuteHost
import ChuteTestSupport
import Foundation
import Testing
import ZIPFoundation

/// Code zips from strangers: nothing is written outside the function's directory, no symbolic
/// links, and inflation stops at the size limit whatever the zip claims.
@Suite struct CodeArchiveTests {
    static func zip(_ entries: [(path: String, data: Data)], symlink: (path: String, target: String)? = nil) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        for (path, data) in entries {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        if let symlink {
            let target = Data(symlink.target.utf8)
            try archive.addEntry(with: symlink.path, type: .symlink, uncompressedSize: Int64(target.count)) { position, size in
                target.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return try #require(archive.data)
    }

    func target() -> String { Fixtures.scratch + "/code-\(RequestID.make())" }

    @Test func unpacksFilesAndDirectories() throws {
        let directory = target()
        try CodeArchive.unpack(try Self.zip([("lib/libx.so", Data([1, 2, 3])), ("./README", Data("hi".utf8))]), into: directory)
        #expect(FileManager.default.contents(atPath: directory + "/lib/libx.so") == Data([1, 2, 3]))
        #expect(FileManager.default.contents(atPath: directory + "/README") == Data("hi".utf8))
    }

    @Test func refusesPathsThatLeaveTheDirectory() throws {
        for path in ["../escape.so", "lib/../../escape.so", "/etc/passwd", "lib\\..\\x.so"] {
            let directory = target()
            #expect(throws: CodeArchiveError.self) { try CodeArchive.unpack(try Self.zip([(path, Data([1]))]), into: directory) }
            #expect(!FileManager.default.fileExists(atPath: directory))
        }
        #expect(!FileManager.default.fileExists(atPath: Fixtures.scratch + "/escape.so"))
    }

    @Test func refusesSymbolicLinks() throws {
        let directory = target()
        let error = #expect(throws: CodeArchiveError.self) {
            try CodeArchive.unpack(try Self.zip([("a.so", Data([1]))], symlink: ("link.so", "/etc/passwd")), into: directory)
        }
        #expect(error?.description.contains("symbolic link") == true)
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func stopsInflatingAtTheUnzippedLimit() throws {
        var limits = CodeArchive.Limits()
        limits.unzippedBytes = 1_000_000
        // Two megabytes of zeros deflate to a few kilobytes: a small bomb.
        let bomb = try Self.zip([("zeros", Data(count: 2_000_000))])
        #expect(bomb.count < 50_000)
        let directory = target()
        let error = #expect(throws: CodeArchiveError.self) { try CodeArchive.unpack(bomb, into: directory, limits: limits) }
        #expect(error?.description.contains("larger than 1000000 bytes") == true)
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func refusesWhatIsNotAZip() {
        #expect(throws: CodeArchiveError.self) { try CodeArchive.unpack(Data("not a zip".utf8), into: target()) }
    }
}
