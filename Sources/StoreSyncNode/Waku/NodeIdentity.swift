import Foundation
import StoreSyncP2P

/// The node's libp2p identity key, kept in its data directory (`node.key`, the libp2p private
/// key protobuf, readable by its owner only) so that its PeerId survives restarts.
public enum NodeIdentity {
    /// The key file's name in the data directory.
    public static let fileName = "node.key"

    /// Why the key could not be loaded or made.
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case unreadable(path: String, reason: String)
        case wrongType(path: String, found: String, requested: String)
        case unwritable(path: String, reason: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "the node key \(path) cannot be read: \(reason)"
            case .wrongType(let path, let found, let requested):
                "the node key \(path) is \(found), not the \(requested) asked for; move it away to make a new one"
            case .unwritable(let path, let reason): "the node key \(path) cannot be written: \(reason)"
            }
        }
    }

    /// The key in `directory`, made on first start with `type` (default secp256k1, the only type
    /// an ENR can carry). A `type` that differs from the stored key's is an error.
    public static func loadOrCreate(directory: String, type: KeyType? = nil) throws -> PrivateKey {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        if FileManager.default.fileExists(atPath: path) {
            let key: PrivateKey
            do {
                key = try PrivateKey(protobuf: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            } catch {
                throw Failure.unreadable(path: path, reason: "\(error)")
            }
            if let type, key.publicKey.type != type {
                throw Failure.wrongType(path: path, found: "\(key.publicKey.type)", requested: "\(type)")
            }
            return key
        }
        let key = try PrivateKey.generate(type ?? .secp256k1)
        let temporary = path + ".new"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data(key.protobuf), attributes: [.posixPermissions: 0o600])
        else { throw Failure.unwritable(path: temporary, reason: "create failed") }
        do {
            try FileHandle(forWritingTo: URL(fileURLWithPath: temporary)).synchronize()
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            throw Failure.unwritable(path: path, reason: "\(error)")
        }
        return key
    }
}
