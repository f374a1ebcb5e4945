import Foundation
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode

// node-bench: two nodes with LMDB stores sync over loopback, over libp2p (Noise, yamux) or with
// --framing over the plaintext framing listener; reconcile + transfer measured.
//   node-bench [--n 1000000] [--size 200] [--d 10000] [--span 3600] [--one-sided] [--furps] [--framing]
// --d keys differ: half only on the initiator, half only on the responder (--one-sided: all on the
// responder). --furps: the reference node's target scenario, 60 minutes at 15 messages/s of 150 KB,
// 10% missing on the initiator.

var n = 1_000_000
var size = 200
var d = 10_000
var span = 3_600
var oneSided = false
var framing = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
    switch flag {
    case "--furps":
        span = 3_600
        n = 15 * span
        size = 150_000  // 150 kB: under the 150 KiB a store node accepts, with room for the envelope
        d = n / 10
        oneSided = true
    case "--one-sided": oneSided = true
    case "--framing": framing = true
    case "--n": n = Int(arguments.next() ?? "") ?? n
    case "--size": size = Int(arguments.next() ?? "") ?? size
    case "--d": d = Int(arguments.next() ?? "") ?? d
    case "--span": span = Int(arguments.next() ?? "") ?? span
    default:
        FileHandle.standardError.write(Data("node-bench: unknown flag \(flag)\n".utf8))
        exit(2)
    }
}

let topic = "/waku/2/rs/0/0"
let root = FileManager.default.temporaryDirectory.appendingPathComponent("node-bench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: root) }
let initiator = try MessageStore(
    StoreConfiguration(directory: root + "/initiator", initialMapSize: 1 << 30, durability: .noSync))
let responder = try MessageStore(
    StoreConfiguration(directory: root + "/responder", initialMapSize: 1 << 30, durability: .noSync))

// The stream: message i at span * i / n seconds; payload: its index, then filler.
let filler = [UInt8](repeating: 0x5A, count: max(0, size - 8))
let step = Int64(span) * 1_000_000_000 / Int64(n)
let clock = ContinuousClock()
let buildStart = clock.now
var batches: ([WakuMessage], [WakuMessage]) = ([], [])
var onlyInitiator = 0
var onlyResponder = 0
for index in 0..<n {
    var payload = withUnsafeBytes(of: UInt64(index).bigEndian) { Array($0) }
    payload.append(contentsOf: filler)
    let message = try WakuMessage(
        pubsubTopic: topic, contentTopic: "/bench/1/c\(index % 4)/proto", payload: payload,
        timestamp: 1_700_000_000_000_000_000 + Int64(index) * step)
    // Every (n/d)-th message differs, alternating sides unless one-sided.
    let differs = d > 0 && index % max(1, n / d) == 0 && (onlyInitiator + onlyResponder) < d
    if differs && !oneSided && (onlyInitiator + onlyResponder) % 2 == 0 {
        batches.0.append(message)
        onlyInitiator += 1
    } else if differs {
        batches.1.append(message)
        onlyResponder += 1
    } else {
        batches.0.append(message)
        batches.1.append(message)
    }
    if batches.1.count * max(size, 1) > 64 << 20 || batches.1.count >= 20_000 || index == n - 1 {
        _ = try initiator.ingest(batches.0)
        _ = try responder.ingest(batches.1)
        batches = ([], [])
    }
}
print(
    String(
        format: "built two stores: %d messages of %d B, %d only on the initiator, %d only on the responder, in %.1f s",
        n, size, onlyInitiator, onlyResponder, (clock.now - buildStart).seconds))

// The build leaves gigabytes of dirty pages: written back now, not during the measured sync.
sync()

var configuration = NodeConfiguration()
configuration.plaintextListener = framing
let node = try await StoreNode.bind(store: responder, configuration: configuration)
let serving = Task { try await node.serve() }
guard let address = node.address else { throw CocoaError(.featureUnsupported) }
let client = framing ? NodeClient(host: "127.0.0.1", port: node.port) : try NodeClient(address: address)
let start = clock.now
let report = try await client.sync(store: initiator, pubsubTopic: topic)
let elapsed = (clock.now - start).seconds
await node.close()
_ = await serving.result
print(
    String(
        format:
            "sync over loopback: %.2f s, %d rounds, %d B up, %d B down; fetched %d, sent %d, rejected %d, missing %d",
        elapsed, report.rounds, report.bytesUp, report.bytesDown, report.fetched.stored, report.sent.stored,
        report.fetched.rejected + report.sent.rejected, report.missing))
let agree = try initiator.messageCount() == n && responder.messageCount() == n
print("both stores hold all \(n) messages: \(agree ? "yes" : "NO")")
if !agree { exit(1) }
