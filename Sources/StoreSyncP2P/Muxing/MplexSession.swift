import NIOCore

/// `/mplex/6.7.0` as a state machine (libp2p/specs `mplex/README.md`): each message is a varint
/// header `id << 3 | flag`, a varint length and the data. Each side numbers the streams it opens;
/// the flag says whether the sender opened the stream. mplex has no flow control: a message over
/// the size bound fails the connection, and the connection's reader stops reading while a stream
/// holds more than its buffer bound.
struct MplexSession: MuxerMachine {
    static let protocolID = "/mplex/6.7.0"
    /// The largest data this side sends in one message: with its header (two varints, at most
    /// 10 + 3 bytes here), one Noise message, so that the receiver takes messages out of decrypted
    /// Noise messages without copying them.
    static let maximumFrame = NoiseChannel.maximumPlaintext - 13

    enum Flag: UInt64 {
        case newStream = 0
        case messageReceiver = 1
        case messageInitiator = 2
        case closeReceiver = 3
        case closeInitiator = 4
        case resetReceiver = 5
        case resetInitiator = 6
    }

    private struct Stream: Sendable {
        var remoteClosed = false
        var localClosed = false
    }

    private let limits: MuxerLimits
    private var streams: [StreamKey: Stream] = [:]
    private var nextID: UInt64 = 0
    /// The highest stream number the peer has opened.
    private var highestRemote: UInt64?

    init(role: ConnectionRole, limits: MuxerLimits) {
        self.limits = limits
    }

    mutating func receive(_ buffer: inout ByteBuffer, into events: inout [MuxerEvent]) throws(P2PError) {
        while true {
            var peek = buffer
            guard let header = try UVarint.read(&peek, what: "mplex header") else { return }
            guard let data = try UVarint.readPrefixed(&peek, limit: limits.maximumMplexMessage, what: "mplex message")
            else { return }
            buffer = peek
            guard let flag = Flag(rawValue: header & 7) else { throw .malformed("mplex flag \(header & 7)") }
            let id = header >> 3
            // The peer's own streams carry the initiator flags; this side's carry the receiver ones.
            let senderOpened = flag == .newStream || flag.rawValue % 2 == 0
            let key = StreamKey(id: id, local: !senderOpened)
            try apply(flag, key: key, data: data, into: &events)
        }
    }

    private mutating func apply(_ flag: Flag, key: StreamKey, data: ByteBuffer, into events: inout [MuxerEvent])
        throws(P2PError)
    {
        if flag == .newStream {
            guard streams[key] == nil else { throw .violation("mplex peer reopened stream \(key.id)") }
            highestRemote = max(highestRemote ?? 0, key.id)
            guard streams.count < limits.maximumStreams else {
                events.append(.send(Self.message(id: key.id, flag: .resetReceiver)))
                return
            }
            streams[key] = Stream()
            events.append(.opened(key))
            return
        }
        guard var stream = streams[key] else {
            let known = key.local ? key.id < nextID : key.id <= (highestRemote ?? 0) && highestRemote != nil
            guard known else { throw .violation("mplex frame for stream \(key.id), which was never opened") }
            return
        }
        switch flag {
        case .messageInitiator, .messageReceiver:
            guard !stream.remoteClosed else { throw .violation("mplex data after close on stream \(key.id)") }
            if data.readableBytes > 0 { events.append(.data(key, data)) }
        case .closeInitiator, .closeReceiver:
            if !stream.remoteClosed {
                stream.remoteClosed = true
                events.append(.remoteClosed(key))
            }
        case .resetInitiator, .resetReceiver:
            streams[key] = nil
            events.append(.reset(key))
            return
        case .newStream:
            return
        }
        streams[key] = stream
    }

    static func message(id: UInt64, flag: Flag, data: ByteBuffer? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        UVarint.write(id << 3 | flag.rawValue, to: &buffer)
        UVarint.writePrefixed(data ?? ByteBuffer(), to: &buffer)
        return buffer
    }

    mutating func open() throws(P2PError) -> (StreamKey, ByteBuffer) {
        guard streams.count < limits.maximumStreams else {
            throw .limit("\(limits.maximumStreams) streams are open on this connection")
        }
        let key = StreamKey(id: nextID, local: true)
        nextID += 1
        streams[key] = Stream()
        return (key, Self.message(id: key.id, flag: .newStream, data: ByteBuffer(string: String(key.id))))
    }

    func sendable(_ key: StreamKey) -> Int {
        guard let stream = streams[key], !stream.localClosed else { return 0 }
        return Self.maximumFrame
    }

    mutating func frame(_ data: ByteBuffer, on key: StreamKey) -> ByteBuffer {
        Self.message(id: key.id, flag: key.local ? .messageInitiator : .messageReceiver, data: data)
    }

    mutating func consumed(_ count: Int, on key: StreamKey) -> ByteBuffer? {
        nil
    }

    mutating func closeWrite(_ key: StreamKey) -> ByteBuffer? {
        guard var stream = streams[key], !stream.localClosed else { return nil }
        stream.localClosed = true
        streams[key] = stream
        return Self.message(id: key.id, flag: key.local ? .closeInitiator : .closeReceiver)
    }

    mutating func reset(_ key: StreamKey) -> ByteBuffer? {
        guard streams.removeValue(forKey: key) != nil else { return nil }
        return Self.message(id: key.id, flag: key.local ? .resetInitiator : .resetReceiver)
    }

    mutating func remove(_ key: StreamKey) {
        streams[key] = nil
    }

    func goAway() -> ByteBuffer? {
        nil
    }
}
