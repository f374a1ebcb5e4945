import StoreSyncP2P

/// `/vac/waku/metadata/1.0.0` (rfc-index 66/metadata): the cluster id and shards a node serves,
/// asked by each side on every new connection. A peer of another cluster is disconnected.
public struct WakuMetadata: Sendable, Equatable {
    public static let protocolID = "/vac/waku/metadata/1.0.0"
    /// The largest request or response read, as the reference node reads them.
    public static let maximumSize = 1_024
    /// Shards accepted in one message.
    public static let maximumShards = 1_024

    public var clusterID: UInt32?
    public var shards: [UInt32]

    public init(clusterID: UInt32?, shards: [UInt32]) {
        self.clusterID = clusterID
        self.shards = shards
    }

    /// The metadata of a node storing `pubsubTopics` in `clusterID`: the shards of its
    /// `/waku/2/rs/<cluster>/<shard>` topics of that cluster.
    public init(clusterID: UInt32, pubsubTopics: [String]) {
        let prefix = "/waku/2/rs/\(clusterID)/"
        self.init(
            clusterID: clusterID,
            shards: pubsubTopics.compactMap { $0.hasPrefix(prefix) ? UInt32($0.dropFirst(prefix.count)) : nil }.sorted()
        )
    }

    /// Decodes a peer's message: `{1: cluster_id, 2: shards (deprecated), 3: shards packed}`.
    public init(decoding bytes: [UInt8]) throws(P2PError) {
        guard bytes.count <= Self.maximumSize else {
            throw .tooLarge(what: "metadata message", size: bytes.count, limit: Self.maximumSize)
        }
        var reader = ProtobufReader(bytes, what: "metadata")
        var cluster: UInt32?
        var shards: [UInt32] = []
        while let (field, value) = try reader.next() {
            switch field {
            case 1:
                let raw = try value.varint("cluster id")
                guard let id = UInt32(exactly: raw) else { throw .malformed("cluster id \(raw) over 32 bits") }
                cluster = id
            case 2, 3:
                for shard in try value.varints("shards") {
                    guard shards.count < Self.maximumShards, let id = UInt32(exactly: shard) else {
                        throw .malformed("metadata shards: too many or over 32 bits")
                    }
                    shards.append(id)
                }
            default:
                continue
            }
        }
        self.init(clusterID: cluster, shards: shards)
    }

    /// The encoding, shards packed in field 3 as the reference node writes them.
    public var encoded: [UInt8] {
        var writer = ProtobufWriter()
        if let clusterID { writer.varint(1, UInt64(clusterID)) }
        if !shards.isEmpty { writer.packed(3, shards.map(UInt64.init)) }
        return writer.bytes
    }
}
