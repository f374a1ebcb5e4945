import StoreSyncCore
import Testing

@Suite("Negentropy wire codec")
struct WireCodecTests {
    static let varInts: [(UInt64, [UInt8])] = [
        (0, [0x00]),
        (1, [0x01]),
        (127, [0x7F]),
        (128, [0x81, 0x00]),
        (300, [0x82, 0x2C]),
        (16_383, [0xFF, 0x7F]),
        (16_384, [0x81, 0x80, 0x00]),
        (UInt64.max, [0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
    ]

    @Test(arguments: varInts)
    func varIntEncodesMostSignificantGroupFirst(value: UInt64, bytes: [UInt8]) throws {
        #expect(VarInt.encode(value) == bytes)
        #expect(VarInt.encodedLength(of: value) == bytes.count)
        var reader = ByteReader(bytes)
        #expect(try reader.readVarInt("test") == value)
        #expect(reader.isAtEnd)
    }

    @Test func varIntRoundTripsRandomValues() throws {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<10_000 {
            let value = rng.next() >> (rng.next() % 64)
            var reader = ByteReader(VarInt.encode(value))
            #expect(try reader.readVarInt("value") == value)
        }
    }

    static let malformed: [(String, [UInt8], WireError)] = [
        ("empty message", [], .emptyMessage),
        ("version outside 0x60...0x6F", [0x70], .invalidVersion(0x70)),
        ("truncated varint", [0x61, 0x81], .truncated(what: "bound timestamp", offset: 1)),
        (
            "varint over 64 bits", [0x61, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            .varIntOverflow(what: "bound timestamp", offset: 1)
        ),
        ("non-minimal varint", [0x61, 0x80, 0x01, 0x00, 0x00], .nonMinimalVarInt(what: "bound timestamp", offset: 1)),
        ("prefix length over 32", [0x61, 0x00, 0x21], .boundPrefixTooLong(length: 33, offset: 2)),
        ("truncated prefix", [0x61, 0x00, 0x02, 0xAA], .truncated(what: "bound id prefix", offset: 3)),
        ("bad mode", [0x61, 0x00, 0x00, 0x03], .invalidMode(3, offset: 3)),
        ("missing mode", [0x61, 0x00, 0x00], .truncated(what: "range mode", offset: 3)),
        ("truncated fingerprint", [0x61, 0x00, 0x00, 0x01, 0x01, 0x02], .truncated(what: "fingerprint", offset: 4)),
        (
            "count beyond input", [0x61, 0x00, 0x00, 0x02, 0x05] + [UInt8](repeating: 0, count: 64),
            .idCountExceedsInput(count: 5, offset: 4)
        ),
        (
            "huge count", [0x61, 0x00, 0x00, 0x02, 0x8F, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            .idCountExceedsInput(count: 0x7F_FFFF_FFFF, offset: 4)
        ),
        // (5, empty) then (3, empty): the timestamp delta cannot go back, but the id can.
        (
            "bound going backwards", [0x61, 0x06, 0x01, 0x05, 0x00, 0x01, 0x01, 0x01, 0x00],
            .boundNotAscending(offset: 5)
        ),
    ]

    @Test(arguments: malformed)
    func malformedInputIsATypedError(name: String, bytes: [UInt8], expected: WireError) {
        #expect(throws: expected, "\(name)") { try NegentropyMessage.decode(bytes) }
        // The engine rejects it the same way, never crashing.
        let responder = try? Reconciler()
        #expect(throws: (any Error).self, "\(name)") {
            try responder?.respond(to: bytes, storage: SortedKeyStorage([]))
        }
    }

    @Test func limitsOnRangesAndIdsAreEnforced() throws {
        let ranges = (1...5).map { NegentropyMessage.Range(upperBound: Bound(timestamp: UInt64($0)), payload: .skip) }
        let bytes = NegentropyMessage(ranges: ranges).encoded()
        #expect(throws: WireError.tooManyRanges(limit: 4)) {
            try NegentropyMessage.decode(bytes, limits: DecodingLimits(maximumRanges: 4, maximumIds: 10))
        }
        let ids = NegentropyMessage(ranges: [
            .init(upperBound: .infinity, payload: .idList([.zero, .zero, .zero]))
        ]).encoded()
        #expect(throws: WireError.tooManyIds(limit: 2)) {
            try NegentropyMessage.decode(ids, limits: DecodingLimits(maximumRanges: 4, maximumIds: 2))
        }
    }

    @Test func otherVersionsAreNegotiated() throws {
        #expect(try NegentropyMessage.decode([0x62]) == .otherVersion(0x62))
        let responder = try Reconciler()
        #expect(try responder.respond(to: [0x62, 0x00], storage: SortedKeyStorage([])) == [0x61])
        let initiator = try Reconciler()
        _ = try initiator.initiate(SortedKeyStorage([]))
        #expect(throws: WireError.unsupportedVersion(0x62)) {
            try initiator.reconcile([0x62], storage: SortedKeyStorage([]))
        }
    }

    @Test func boundsDeltaEncodeTimestampsAndKeepPrefixes() throws {
        let id = try #require(MessageHash(hex: "abcd" + String(repeating: "00", count: 30)))
        let message = NegentropyMessage(ranges: [
            .init(upperBound: Bound(timestamp: 100), payload: .skip),
            .init(upperBound: Bound(timestamp: 105, prefix: [0xAB, 0xCD]), payload: .idList([id])),
            .init(upperBound: .infinity, payload: .fingerprint(Fingerprint(high: 1, low: 2))),
        ])
        let bytes = message.encoded()
        // 0x61 | ts 100 → 101, len 0, Skip | ts +5 → 6, len 2, ab cd, IdList, 1 id | ∞ → 0, len 0, Fingerprint
        let expectedHead: [UInt8] = [0x61, 0x65, 0x00, 0x00, 0x06, 0x02, 0xAB, 0xCD, 0x02, 0x01]
        #expect(Array(bytes.prefix(expectedHead.count)) == expectedHead)
        #expect(try NegentropyMessage.decode(bytes) == .message(message))
    }

    @Test func frameSizeLimitBelowMinimumIsRejected() {
        #expect(throws: ReconcilerError.frameSizeLimitTooSmall(1000)) { try Reconciler(frameSizeLimit: 1000) }
    }
}

@Suite("Fingerprints")
struct FingerprintTests {
    /// Worked example of SPEC.md, computed independently: ids aa…aa and bb…bb sum (little-endian,
    /// mod 2^256) to 65 66…66; with the count varint 02 appended, SHA-256 starts 2e77f598….
    @Test func specWorkedExample() throws {
        let a = try #require(MessageHash(hex: String(repeating: "aa", count: 32)))
        let b = try #require(MessageHash(hex: String(repeating: "bb", count: 32)))
        let storage = SortedKeyStorage([SyncKey(timestamp: 1_000, hash: a), SyncKey(timestamp: 1_005, hash: b)])
        let sum = storage.accumulator(of: 0..<2)
        #expect(Hex.encode(sum.bytes) == "65" + String(repeating: "66", count: 31))
        let fingerprint = try storage.fingerprint(of: 0..<2, hasher: SHA256Hasher())
        #expect(Hex.encode(fingerprint.bytes) == "2e77f59864f98c80d0cef0915e063b05")
    }
}
