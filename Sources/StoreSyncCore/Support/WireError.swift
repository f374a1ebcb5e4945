/// Why bytes from a peer could not be decoded. Every case says what was being read and at which
/// byte offset of the message, so a log line identifies the fault without a hex dump.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended inside a field.
    case truncated(what: String, offset: Int)
    /// A varint has more than 64 significant bits.
    case varIntOverflow(what: String, offset: Int)
    /// A varint starts with a zero group, so it is not the one canonical encoding of its value.
    case nonMinimalVarInt(what: String, offset: Int)
    /// A message is empty: it has not even a version byte.
    case emptyMessage
    /// The first byte is not a Negentropy protocol version (0x60...0x6F).
    case invalidVersion(UInt8)
    /// The peer speaks a Negentropy version this implementation does not (it speaks 0x61 only).
    case unsupportedVersion(UInt8)
    /// A bound's id prefix is longer than 32 bytes.
    case boundPrefixTooLong(length: UInt64, offset: Int)
    /// A bound is lower than the bound before it in the same message.
    case boundNotAscending(offset: Int)
    /// A range mode other than Skip (0), Fingerprint (1) or IdList (2).
    case invalidMode(UInt64, offset: Int)
    /// An IdList declares more ids than the bytes left could hold.
    case idCountExceedsInput(count: UInt64, offset: Int)
    /// A message has more ranges than the configured limit.
    case tooManyRanges(limit: Int)
    /// A message has more ids in its IdLists than the configured limit.
    case tooManyIds(limit: Int)
    /// A store-sync timestamp (a bound's or an item's, after its delta) passes 2^64.
    case timestampOverflow(offset: Int)
    /// A store-sync item set's reconciled flag is neither 0 nor 1.
    case invalidFlag(UInt64, offset: Int)
    /// A store-sync payload names more topics of one kind than the bound.
    case tooManyTopics(count: UInt64, offset: Int)
    /// A store-sync topic is longer than the bound.
    case topicTooLong(length: UInt64, offset: Int)
    /// A store-sync topic is not UTF-8.
    case invalidTopic(offset: Int)

    public var description: String {
        switch self {
        case .truncated(let what, let offset): "input ends inside \(what) at byte \(offset)"
        case .varIntOverflow(let what, let offset): "varint for \(what) at byte \(offset) exceeds 64 bits"
        case .nonMinimalVarInt(let what, let offset): "varint for \(what) at byte \(offset) is not minimal"
        case .emptyMessage: "empty message: no protocol version byte"
        case .invalidVersion(let byte): "0x\(Hex.encode([byte])) is not a Negentropy protocol version byte"
        case .unsupportedVersion(let byte): "peer requires Negentropy version 0x\(Hex.encode([byte])); we speak 0x61"
        case .boundPrefixTooLong(let length, let offset):
            "bound at byte \(offset) has an id prefix of \(length) bytes (max 32)"
        case .boundNotAscending(let offset): "bound at byte \(offset) is lower than the bound before it"
        case .invalidMode(let mode, let offset): "unknown range mode \(mode) at byte \(offset)"
        case .idCountExceedsInput(let count, let offset):
            "IdList at byte \(offset) declares \(count) ids, more than the bytes left hold"
        case .tooManyRanges(let limit): "message has more than \(limit) ranges"
        case .tooManyIds(let limit): "message has more than \(limit) ids"
        case .timestampOverflow(let offset): "timestamp at byte \(offset) passes 2^64"
        case .invalidFlag(let flag, let offset): "reconciled flag \(flag) at byte \(offset) is neither 0 nor 1"
        case .tooManyTopics(let count, let offset):
            "\(count) topics at byte \(offset); at most \(RangesData.maximumTopics)"
        case .topicTooLong(let length, let offset):
            "topic of \(length) bytes at byte \(offset); at most \(RangesData.maximumTopicLength)"
        case .invalidTopic(let offset): "topic at byte \(offset) is not UTF-8"
        }
    }
}
