import ArgumentParser
import Foundation
import NIOCore
import StoreSyncCore
import StoreSyncLMDB
import StoreSyncNode
import StoreSyncP2P

/// A `HOST:PORT` argument.
struct Endpoint: ExpressibleByArgument, CustomStringConvertible {
    let host: String
    let port: Int

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]),
            (0...65_535).contains(port), colon != argument.startIndex
        else { return nil }
        host = String(argument[..<colon])
        self.port = port
    }

    var description: String { "\(host):\(port)" }
    var client: NodeClient { NodeClient(host: host, port: port) }
}

/// A node to talk to: a libp2p multiaddr (`/ip4/…/tcp/…/p2p/<PeerId>`), or HOST:PORT for this
/// project's framing listener.
enum NodeAddress: ExpressibleByArgument, CustomStringConvertible {
    case libp2p(Multiaddr)
    case framing(Endpoint)

    init?(argument: String) {
        if argument.hasPrefix("/") {
            guard let address = try? Multiaddr(argument), address.peerID != nil, address.hostAndPort != nil else {
                return nil
            }
            self = .libp2p(address)
        } else {
            guard let endpoint = Endpoint(argument: argument) else { return nil }
            self = .framing(endpoint)
        }
    }

    var description: String {
        switch self {
        case .libp2p(let address): address.description
        case .framing(let endpoint): endpoint.description
        }
    }

    /// A client of the node; over libp2p it proves `identity` (a fresh one when nil).
    func client(identity: PrivateKey? = nil, storeSync: StoreSyncSettings = StoreSyncSettings()) throws -> NodeClient {
        switch self {
        case .libp2p(let address): try NodeClient(address: address, identity: identity, storeSync: storeSync)
        case .framing(let endpoint): endpoint.client
        }
    }
}

/// `--key-type`.
struct KeyTypeArgument: ExpressibleByArgument {
    let type: KeyType

    init?(argument: String) {
        switch argument {
        case "secp256k1": type = .secp256k1
        case "ed25519": type = .ed25519
        default: return nil
        }
    }
}

/// A duration argument such as `90s`, `30m`, `1h` or `2d`.
struct DurationArgument: ExpressibleByArgument {
    let nanoseconds: UInt64

    init?(argument: String) {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        guard let unit = argument.last.flatMap({ units[$0] }), let value = UInt64(argument.dropLast()) else {
            return nil
        }
        nanoseconds = value * unit * 1_000_000_000
    }
}

extension SplitPolicy: ExpressibleByArgument {}

/// Turns failures into messages that name the problem and the fix.
func explain(_ error: any Error, peer: (any CustomStringConvertible)? = nil, dataDirectory: String? = nil) -> String {
    switch error {
    case let error as StoreError:
        return "\(error)" + (dataDirectory.map { " (data directory \($0): check the path and its permissions)" } ?? "")
    case let error as PeerError:
        return "\(error)"
    case let error as IOError:
        return "cannot reach \(peer.map { "\($0)" } ?? "the peer"): \(error.description); is a node listening there?"
    case let error as ChannelError:
        return "connection to \(peer.map { "\($0)" } ?? "the peer") failed: \(error)"
    default:
        let text = "\(error)"
        if text.contains("connect") || text.contains("refused") {
            return "cannot reach \(peer.map { "\($0)" } ?? "the peer"): \(text); is a node listening there?"
        }
        return text
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("storesync: \(message)\n".utf8))
}

/// Writes a line to standard output at once (unbuffered), so that supervisors and tests reading
/// a long-running node's output see each line as it happens.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Opens the store in `directory`, or explains why it cannot be opened and exits 1.
func openStore(
    _ directory: String, retention: RetentionPolicy = .none,
    readerThreads: Int = StoreConfiguration.defaultReaderThreads
) throws -> MessageStore {
    do {
        return try MessageStore(
            StoreConfiguration(directory: directory, retention: retention, readerThreads: readerThreads))
    } catch {
        printError(explain(error, dataDirectory: directory))
        throw ExitCode(1)
    }
}

/// The retry flags of the commands that talk to a node.
struct RetryOptions: ParsableArguments {
    @Option(help: "Longest wait, in seconds, between retries when the node refuses (429/503) or times out.")
    var maxBackoff = 30.0

    @Option(help: "Attempts per request, the first included.")
    var attempts = 5

    /// Backoff from 1 s, capped at `--max-backoff`.
    var policy: RetryPolicy { RetryPolicy(maximumDelay: maxBackoff, maximumAttempts: max(1, attempts)) }
}

/// The `--retention` flag of the commands that write to a store.
struct RetentionOptions: ParsableArguments {
    @Option(
        name: .customLong("retention"),
        help: """
            What the store keeps, repeatable or comma-separated: time:<seconds>, capacity:<count>, \
            size:<n>mb|gb (a hard cap on the data file), or none (the default). Oldest messages go first.
            """)
    var settings: [String] = []

    func validate() throws {
        do {
            _ = try RetentionPolicy.parse(settings)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The parsed policy (valid: `validate()` ran).
    var policy: RetentionPolicy { (try? RetentionPolicy.parse(settings)) ?? .none }
}

/// The outcome of `import` or `push`: the counts, then each refused line with why.
func report(_ counts: StoreCounts, reasons: [(line: Int, reason: String)]) {
    print("stored \(counts.stored), duplicates \(counts.duplicates), rejected \(counts.rejected)")
    for (line, reason) in reasons.sorted(by: { $0.line < $1.line }) { print("  line \(line): \(reason)") }
}
