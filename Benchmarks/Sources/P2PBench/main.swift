import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncP2P
import StoreSyncProto

// p2p-bench: a node on loopback with an LMDB store; measures libp2p connection set-up (TCP,
// multistream, Noise XX, muxer, identify) and Store v3 query latency over libp2p against the same
// queries over the framing listener.
//   p2p-bench [--n 100000] [--connections 200] [--queries 2000] [--key-type secp256k1|ed25519]
//             [--muxer yamux|mplex]

var n = 100_000
var connections = 200
var queries = 2_000
var keyType = KeyType.secp256k1
var muxer = "/yamux/1.0.0"
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    switch flag {
    case "--n": n = Int(arguments.next() ?? "") ?? n
    case "--connections": connections = Int(arguments.next() ?? "") ?? connections
    case "--queries": queries = Int(arguments.next() ?? "") ?? queries
    case "--key-type": keyType = arguments.next() == "ed25519" ? .ed25519 : .secp256k1
    case "--muxer": muxer = arguments.next() == "mplex" ? "/mplex/6.7.0" : "/yamux/1.0.0"
    default:
        FileHandle.standardError.write(Data("p2p-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("p2p-bench: \(message)\n".utf8))
    exit(1)
}

func percentiles(_ samples: [Duration]) -> String {
    let sorted = samples.sorted()
    func at(_ fraction: Double) -> Double {
        let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
        return Double(value.components.attoseconds) / 1e15 + Double(value.components.seconds) * 1e3
    }
    return String(format: "p50 %.3f ms, p99 %.3f ms (%d samples)", at(0.5), at(0.99), sorted.count)
}

let topic = "/waku/2/rs/0/0"
let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2p-bench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: root) }
let store = try MessageStore(StoreConfiguration(directory: root, durability: .noSync))
var rng = SplitMix64(seed: 3)
let messages = try (0..<n).map { index in
    try WakuMessage(
        pubsubTopic: topic, contentTopic: "/bench/1/c\(index % 10)/proto",
        payload: (0..<200).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
        timestamp: 1_700_000_000_000_000_000 + Int64(index) * 1_000_000)
}
for batch in stride(from: 0, to: n, by: 10_000) {
    _ = try store.ingest(Array(messages[batch..<min(n, batch + 10_000)]))
}
var configuration = NodeConfiguration(rateLimits: .none)
configuration.plaintextListener = true
configuration.p2p.maximumConnectionsPerIP = connections + 8
let node = try await StoreNode.bind(
    store: store, configuration: configuration, identity: try PrivateKey.generate(keyType))
let serving = Task { try await node.serve() }
guard let address = node.address else { fail("the node has no libp2p address") }
print("node: \(n) messages, \(keyType) key, listening on \(address)")

var clientConfiguration = P2PConfiguration()
clientConfiguration.muxers = [muxer]
var setups: [Duration] = []
for _ in 0..<connections {
    let host = P2PHost(identity: try PrivateKey.generate(.secp256k1), configuration: clientConfiguration)
    let started = ContinuousClock.now
    let connection = try await host.dial(address)
    setups.append(ContinuousClock.now - started)
    connection.close()
    await connection.closed()
}
print("connection set-up (TCP, multistream, Noise XX, \(muxer), identify): \(percentiles(setups))")

@MainActor func request(_ index: Int) -> Waku_Store_V3_StoreQueryRequest {
    var request = Waku_Store_V3_StoreQueryRequest()
    request.requestID = "q\(index)"
    request.includeData = true
    request.paginationForward = true
    request.pubsubTopic = topic
    request.contentTopics = ["/bench/1/c\(index % 10)/proto"]
    let start = messages[(index * 7919) % (n - 1_000)].timestamp
    request.timeStart = start
    request.timeEnd = start + 500 * 1_000_000
    return request
}

let waku = try WakuStoreClient(address: address)
_ = try await waku.query(request(0))
/// The latency of each of `queries` queries sent with `ask`.
@MainActor func latencies(_ ask: (Waku_Store_V3_StoreQueryRequest) async throws -> Waku_Store_V3_StoreQueryResponse)
    async throws -> [Duration]
{
    var samples: [Duration] = []
    for index in 0..<queries {
        let started = ContinuousClock.now
        let response = try await ask(request(index))
        samples.append(ContinuousClock.now - started)
        guard response.statusCode == 200, response.messages.count == 20 else {
            fail("query \(index): status \(response.statusCode), \(response.messages.count) messages")
        }
    }
    return samples
}

let overLibp2p = try await latencies { try await waku.query($0) }
print("Store v3 over libp2p (\(muxer), one connection, a stream per query): \(percentiles(overLibp2p))")
let framing = NodeClient(host: "127.0.0.1", port: node.port)
let overFraming = try await latencies { try await framing.query($0) }
print("Store v3 over the framing listener (a TCP connection per query): \(percentiles(overFraming))")
waku.close()
await node.close()
_ = await serving.result
