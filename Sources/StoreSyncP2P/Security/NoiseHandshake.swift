import Crypto

/// The libp2p Noise XX handshake as a state machine: handshake messages in, handshake messages
/// out, and at the end the two transport ciphers and the peer's verified identity.
///
///     -> e
///     <- e, ee, s, es, payload
///     -> s, se, payload
public struct NoiseHandshake: Sendable {
    /// Which side of the handshake this is.
    public enum Role: Sendable { case initiator, responder }

    /// What a finished handshake gives.
    public struct Result: Sendable {
        /// Encrypts what this side sends.
        var sender: NoiseCipherState
        /// Decrypts what this side receives.
        var receiver: NoiseCipherState
        /// The peer's identity key, verified against its static key.
        public let remoteKey: PublicKey
        /// The peer's PeerId.
        public var remotePeer: PeerID { PeerID(publicKey: remoteKey) }
    }

    private enum Step: Sendable { case first, second, third, done }

    public let role: Role
    private let identity: PrivateKey
    /// Raw X25519 keys (swift-crypto's key types are not Sendable).
    private let staticSecret: [UInt8]
    private let ephemeralSecret: [UInt8]
    private var remoteEphemeral: [UInt8]?
    private var remoteStatic: [UInt8]?
    private var remoteKey: PublicKey?
    private var state = NoiseSymmetricState()
    private var step = Step.first

    /// A handshake for `identity`, with fresh static and ephemeral keys unless given (tests pin
    /// them).
    public init(
        role: Role, identity: PrivateKey,
        staticKey: Curve25519.KeyAgreement.PrivateKey = .init(),
        ephemeral: Curve25519.KeyAgreement.PrivateKey = .init()
    ) {
        self.role = role
        self.identity = identity
        self.staticSecret = Array(staticKey.rawRepresentation)
        self.ephemeralSecret = Array(ephemeral.rawRepresentation)
    }

    private static func dh(_ own: [UInt8], _ other: [UInt8]?) throws(P2PError) -> [UInt8] {
        guard let other else { throw .handshake("a key of the peer is missing") }
        do {
            let secret = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: own)
            let peer = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: other)
            return try secret.sharedSecretFromKeyAgreement(with: peer).withUnsafeBytes { Array($0) }
        } catch {
            throw .handshake("key agreement failed (a low-order key)")
        }
    }

    private static func publicKey(_ bytes: [UInt8]) throws(P2PError) -> [UInt8] {
        guard bytes.count == 32 else { throw .handshake("an X25519 key is 32 bytes") }
        return bytes
    }

    private static func publicHalf(_ secret: [UInt8]) -> [UInt8] {
        (try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: secret)).map {
            Array($0.publicKey.rawRepresentation)
        }
            ?? []
    }

    /// The initiator's first message: its ephemeral key.
    public mutating func initiate() throws(P2PError) -> [UInt8] {
        guard role == .initiator, step == .first else { throw .handshake("initiate out of order") }
        let key = Self.publicHalf(ephemeralSecret)
        state.mixHash(key)
        let payload = try state.encryptAndHash([])
        step = .second
        return key + payload
    }

    /// Reads the peer's next handshake message; returns the reply to send, if any. After the
    /// handshake is `done`, take `result()`.
    public mutating func receive(_ message: [UInt8]) throws(P2PError) -> [UInt8]? {
        switch (role, step) {
        case (.responder, .first):
            guard message.count >= 32 else { throw .handshake("the first message is shorter than a key") }
            let key = Array(message.prefix(32))
            remoteEphemeral = try Self.publicKey(key)
            state.mixHash(key)
            _ = try state.decryptAndHash(message.dropFirst(32))
            step = .second
            return try respond()
        case (.initiator, .second):
            guard message.count >= 32 + 48 else { throw .handshake("the second message is too short") }
            let key = Array(message.prefix(32))
            remoteEphemeral = try Self.publicKey(key)
            state.mixHash(key)
            state.mixKey(try Self.dh(ephemeralSecret, remoteEphemeral))
            let remote = try state.decryptAndHash(message[32..<80])
            remoteStatic = try Self.publicKey(remote)
            state.mixKey(try Self.dh(ephemeralSecret, remoteStatic))
            let payload = try NoisePayload(decoding: try state.decryptAndHash(message.dropFirst(80)))
            remoteKey = try payload.verifiedKey(staticKey: remote)
            return try finish()
        case (.responder, .third):
            guard message.count >= 48 else { throw .handshake("the third message is too short") }
            let remote = try state.decryptAndHash(message.prefix(48))
            remoteStatic = try Self.publicKey(remote)
            state.mixKey(try Self.dh(ephemeralSecret, remoteStatic))
            let payload = try NoisePayload(decoding: try state.decryptAndHash(message.dropFirst(48)))
            remoteKey = try payload.verifiedKey(staticKey: remote)
            step = .done
            return nil
        default:
            throw .handshake("a handshake message out of order")
        }
    }

    private func ownPayload() throws(P2PError) -> [UInt8] {
        try NoisePayload.signed(by: identity, staticKey: Self.publicHalf(staticSecret)).encoded
    }

    private mutating func respond() throws(P2PError) -> [UInt8] {
        let key = Self.publicHalf(ephemeralSecret)
        state.mixHash(key)
        state.mixKey(try Self.dh(ephemeralSecret, remoteEphemeral))
        let encryptedStatic = try state.encryptAndHash(Self.publicHalf(staticSecret))
        state.mixKey(try Self.dh(staticSecret, remoteEphemeral))
        let payload = try state.encryptAndHash(try ownPayload())
        step = .third
        return key + encryptedStatic + payload
    }

    private mutating func finish() throws(P2PError) -> [UInt8] {
        let encryptedStatic = try state.encryptAndHash(Self.publicHalf(staticSecret))
        state.mixKey(try Self.dh(staticSecret, remoteEphemeral))
        let payload = try state.encryptAndHash(try ownPayload())
        step = .done
        return encryptedStatic + payload
    }

    /// Whether both sides have authenticated.
    public var isDone: Bool { step == .done }

    /// The transport ciphers and the peer's identity.
    public func result() throws(P2PError) -> Result {
        guard step == .done, let remoteKey else { throw .handshake("the handshake is not finished") }
        let (first, second) = state.split()
        return role == .initiator
            ? Result(sender: first, receiver: second, remoteKey: remoteKey)
            : Result(sender: second, receiver: first, remoteKey: remoteKey)
    }
}
