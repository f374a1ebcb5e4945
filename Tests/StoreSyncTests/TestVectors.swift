import Foundation
import StoreSyncCore

/// Locates and reads the conformance data committed in `Tests/Vectors`. A missing file is a
/// thrown error, so the test fails rather than skips.
enum TestVectors {
    struct Missing: Error, CustomStringConvertible {
        let path: String
        var description: String { "conformance data missing at \(path): the tests need Tests/Vectors" }
    }

    static var directory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // StoreSyncTests
            .deletingLastPathComponent()  // Tests
            .appendingPathComponent("Vectors")
    }

    static func data(_ relativePath: String) throws -> Data {
        let url = directory.appendingPathComponent(relativePath)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw Missing(path: url.path) }
        return data
    }

    static let transcriptNames = [
        "empty-both", "client-only-small", "server-only-small", "identical-1000", "mixed-2000",
        "same-timestamp-3000", "clustered-5000", "frame-limited-20000", "sparse-diff-50000",
    ]
}

/// One reference transcript of `Tests/Vectors/negentropy`.
struct Transcript: Decodable {
    struct Message: Decodable {
        let from: String
        let hex: String
    }

    let name: String
    let clientFrameSizeLimit: Int
    let serverFrameSizeLimit: Int
    let clientItems: [[JSONScalar]]
    let serverItems: [[JSONScalar]]
    let messages: [Message]
    let clientHave: [String]
    let clientNeed: [String]

    enum CodingKeys: String, CodingKey {
        case name, messages
        case clientFrameSizeLimit = "client_frame_size_limit"
        case serverFrameSizeLimit = "server_frame_size_limit"
        case clientItems = "client_items"
        case serverItems = "server_items"
        case clientHave = "client_have"
        case clientNeed = "client_need"
    }

    static func load(_ name: String) throws -> Transcript {
        try JSONDecoder().decode(Transcript.self, from: TestVectors.data("negentropy/\(name).json"))
    }

    static func keys(_ items: [[JSONScalar]]) throws -> [SyncKey] {
        try items.map { item in
            guard item.count == 2, case .integer(let timestamp) = item[0], case .string(let hex) = item[1],
                let id = MessageHash(hex: hex)
            else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "bad item \(item)")) }
            return SyncKey(timestamp: timestamp, hash: id)
        }
    }
}

/// A JSON number or string, as transcript items mix them.
enum JSONScalar: Decodable {
    case integer(UInt64)
    case string(String)

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(UInt64.self) {
            self = .integer(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }
}
