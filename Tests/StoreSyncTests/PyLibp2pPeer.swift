import Foundation
import StoreSyncNode
import StoreSyncProto
import StoreSyncTestSupport

/// What pages through Store v3 queries: this project's client, or py-libp2p.
protocol StoreQuerying {
    func query(_ request: Waku_Store_V3_StoreQueryRequest) async throws -> Waku_Store_V3_StoreQueryResponse
}

extension NodeClient: StoreQuerying {}

extension WakuStoreClient: StoreQuerying {}

/// A py-libp2p peer (PyPI `libp2p==0.8.1`, in `.venv-p2p`, made by `scripts/setup-p2p`) driven
/// through `Tests/Interop/p2p_peer.py`: an implementation of libp2p this project did not write.
final class PyLibp2pPeer: StoreQuerying {
    enum Failure: Error, CustomStringConvertible {
        case missing(String)
        case peer(String)

        var description: String {
            switch self {
            case .missing(let what): "py-libp2p is not set up: \(what) (run scripts/setup-p2p)"
            case .peer(let what): "py-libp2p peer: \(what)"
            }
        }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let python = root.appendingPathComponent(".venv-p2p/bin/python")
    static let script = root.appendingPathComponent("Tests/Interop/p2p_peer.py")

    let process: ChildProcess
    /// The first line the peer printed: its address (listen) or its PeerId (dial).
    let greeting: [String: Any]

    private init(_ arguments: [String]) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python.path) else {
            throw Failure.missing(Self.python.path)
        }
        process = try ChildProcess(Self.python, [Self.script.path] + arguments, interactive: true)
        guard let line = await process.nextLine(where: { $0.hasPrefix("{") }),
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            throw Failure.peer("no greeting: \(await process.output())")
        }
        greeting = object
    }

    /// A py-libp2p host that dials `address` with a key of `keyType` and muxer `muxer`.
    static func dialing(_ address: String, keyType: String, muxer: String, cluster: UInt32 = 0) async throws
        -> PyLibp2pPeer
    {
        let peer = try await PyLibp2pPeer(["dial", address, keyType, muxer, String(cluster)])
        if let error = peer.greeting["error"] as? String { throw Failure.peer(error) }
        return peer
    }

    /// A py-libp2p host listening on loopback.
    static func listening(keyType: String, muxer: String) async throws -> PyLibp2pPeer {
        try await PyLibp2pPeer(["listen", keyType, muxer])
    }

    /// The PeerId the peer connected as.
    var peerID: String? { greeting["connected"] as? String }
    /// The address the peer listens on.
    var address: String? { greeting["addr"] as? String }

    /// Runs one command; returns its JSON answer.
    func run(_ command: [String: Any]) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: command)
        process.send(line: String(decoding: data, as: UTF8.self))
        guard let line = await process.nextLine(where: { $0.hasPrefix("{") }),
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw Failure.peer("no answer: \(await process.output())") }
        if let error = object["error"] as? String { throw Failure.peer(error) }
        return object
    }

    /// One request stream: `payload` varint-prefixed, the prefixed answer back.
    func request(_ protocolID: String, _ payload: [UInt8]) async throws -> [UInt8] {
        let answer = try await run(["op": "request", "protocol": protocolID, "hex": Self.hex(payload)])
        return Self.bytes(answer["hex"] as? String ?? "")
    }

    /// `count` request streams in a row; their answers.
    func requests(_ protocolID: String, _ payload: [UInt8], count: Int) async throws -> [[UInt8]] {
        let answer = try await run(
            ["op": "requests", "protocol": protocolID, "hex": Self.hex(payload), "count": count])
        return (answer["answers"] as? [String] ?? []).map(Self.bytes)
    }

    func query(_ request: Waku_Store_V3_StoreQueryRequest) async throws -> Waku_Store_V3_StoreQueryResponse {
        let answer = try await self.request(StoreNode.storeQueryProtocol, try request.serializedBytes())
        return try Waku_Store_V3_StoreQueryResponse(serializedBytes: answer)
    }

    func stop() async {
        process.closeInput()
        process.send(SIGTERM)
        await process.exit()
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index != hex.endIndex {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }
}
