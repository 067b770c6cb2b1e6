import ChuteABI
import ChuteTestSupport
import Foundation
import Testing

/// The header is the contract with handlers we never see: any change to it must come with an
/// ABI version bump. Each released version's header is pinned by its SHA-256 here.
@Suite struct HeaderPinTests {
    static let pinned: [String: String] = [
        "1.0": "8b9c2b08007cef36338b14bb05bdd9fd2c720c048deae64ac8ff6d7c95c3fcb5",
    ]

    @Test func headerMatchesThePinForItsVersion() throws {
        let header = Fixtures.headerDirectory + "/chute.h"
        let digest = try Fixtures.run("/usr/bin/sha256sum", [header]).split(separator: " ").first.map(String.init) ?? ""
        let version = "\(HostABI.major).\(HostABI.minor)"
        let expected = Self.pinned[version]
        #expect(expected != nil, "ABI \(version) has no pinned header digest; add \"\(version)\": \"\(digest)\"")
        #expect(expected == digest, """
            runtime-api/chute.h changed without an ABI version bump (sha256 \(digest)). \
            Append-only additions: bump CHUTE_ABI_MINOR and pin the new digest; anything else: bump CHUTE_ABI_MAJOR.
            """)
    }
}
