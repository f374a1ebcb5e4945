import Foundation
import StoreSyncCore
import Testing

@Suite("README embedding example")
struct ReadmeExampleTests {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    @Test func readmeShowsExactlyTheCompiledExample() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(
            contentsOf: Self.root.appendingPathComponent("Tests/StoreSyncTests/ReadmeExample.swift"),
            encoding: .utf8)
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().compactMap {
            $0.components(separatedBy: "```").first
        }
        let block = try #require(blocks.first { $0.hasPrefix("import StoreSyncCore") }, "README has the example")
        #expect(
            block.trimmingCharacters(in: .whitespacesAndNewlines)
                == example.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func exampleFindsTheDifference() throws {
        let shared = try (0..<500).map {
            try keyOf("message \($0)", at: 1_700_000_000_000_000_000 + Int64($0) * 1_000_000)
        }
        let onlyMine = try keyOf("only mine", at: 1_700_000_000_100_000_000)
        let onlyTheirs = try keyOf("only theirs", at: 1_700_000_000_200_000_000)
        let (have, need) = try findDifference(mine: shared + [onlyMine], theirs: shared + [onlyTheirs])
        #expect(have == [onlyMine.hash])
        #expect(need == [onlyTheirs.hash])
    }
}
