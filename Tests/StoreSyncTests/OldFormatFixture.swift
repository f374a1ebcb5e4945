import StoreSyncCore

/// What the committed stores of earlier formats (`Tests/Vectors/lmdb-format-1` and `-2`) hold:
/// each written once by the version of its format from these messages, then left untouched, so
/// that every later version is tested against stores it did not write.
enum OldFormatFixture {
    static let pubsubTopics = ["/waku/2/rs/1/0", "/waku/2/rs/1/1", "/waku/2/rs/1/2"]
    static let contentTopics = [
        "/app/1/a/proto", "/app/1/b/proto", "/app/1/c/proto", "/app/1/d/proto", "/app/1/e/proto",
    ]
    /// Messages written; those at indexes divisible by `deletedEvery` were deleted again.
    static let written = 2_400
    static let deletedEvery = 7
    /// The key-only index written beside the archive, and its keys.
    static let keyIndexName = "extra"
    static let keyIndexKeys = 500

    static func message(_ index: Int) throws -> WakuMessage {
        var generator = SplitMix64(seed: UInt64(index) &+ 0x5EED)
        return try WakuMessage(
            pubsubTopic: pubsubTopics[index % pubsubTopics.count],
            contentTopic: contentTopics[Int(generator.next() % UInt64(contentTopics.count))],
            payload: (0..<(16 + index % 48)).map { _ in UInt8(truncatingIfNeeded: generator.next()) },
            timestamp: 1_700_000_000_000_000_000 + Int64(generator.next() % 3_600_000_000_000))
    }

    /// The messages the store holds.
    static func kept() throws -> [WakuMessage] {
        try (0..<written).filter { $0 % deletedEvery != 0 }.map(message)
    }

    static func keyIndex() -> [SyncKey] {
        var generator = SplitMix64(seed: 0xFEED)
        return (0..<keyIndexKeys).map { _ in
            SyncKey(
                timestamp: generator.next() % 1_000_000,
                hash: MessageHash(
                    word0: generator.next(), word1: generator.next(), word2: generator.next(), word3: generator.next()))
        }
    }
}
