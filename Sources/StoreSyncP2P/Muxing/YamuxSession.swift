import NIOCore

/// `/yamux/1.0.0` as a state machine: stream numbering (the dialler's odd, the listener's even),
/// per-stream flow-control windows both ways, pings and go-away. A peer that sends more than the
/// window this side granted, or breaks a stream's state, fails the whole connection.
struct YamuxSession: MuxerMachine {
    static let protocolID = "/yamux/1.0.0"
    /// The window every stream starts with, both ways (the spec's default).
    static let initialWindow = 256 * 1024
    /// The largest data frame this side sends: with its 12-byte header, one Noise message, so
    /// that the receiver takes frames out of decrypted messages without copying them.
    static let maximumFrame = NoiseChannel.maximumPlaintext - YamuxHeader.size

    private struct Stream: Sendable {
        /// Bytes the peer may still send before a window update.
        var receiveWindow: Int
        /// Bytes taken by the application and not yet granted back.
        var credit = 0
        /// Bytes this side may still send.
        var sendWindow: Int
        /// This side opened it and has not yet seen the peer's ACK.
        var awaitingAck: Bool
        /// The peer sent its FIN.
        var remoteClosed = false
        /// This side sent its FIN.
        var localClosed = false
    }

    private let role: ConnectionRole
    private let limits: MuxerLimits
    private var streams: [UInt32: Stream] = [:]
    private var nextID: UInt32
    /// The highest stream number the peer has opened: late frames for a finished stream at or
    /// below it are dropped, frames for a stream never opened are a fault.
    private var highestRemote: UInt32 = 0

    /// The window this side grants each stream: the spec's initial window, widened to the
    /// configured one by the first frame of the stream.
    private var receiveWindow: Int { max(Self.initialWindow, limits.yamuxWindow) }
    private var windowGrowth: UInt32 { UInt32(receiveWindow - Self.initialWindow) }

    init(role: ConnectionRole, limits: MuxerLimits) {
        self.role = role
        self.limits = limits
        nextID = role == .dialer ? 1 : 2
    }

    private func isLocal(_ id: UInt32) -> Bool {
        (id % 2 == 1) == (role == .dialer)
    }

    private func key(_ id: UInt32) -> StreamKey {
        StreamKey(id: UInt64(id), local: isLocal(id))
    }

    mutating func receive(_ buffer: inout ByteBuffer, into events: inout [MuxerEvent]) throws(P2PError) {
        while let header = try YamuxHeader.peek(buffer) {
            switch header.kind {
            case .data:
                let length = Int(header.length)
                let allowed = streams[header.streamID]?.receiveWindow ?? Self.initialWindow
                guard length <= allowed else {
                    throw .violation("yamux stream \(header.streamID) sent \(length) bytes over a window of \(allowed)")
                }
                guard buffer.readableBytes >= YamuxHeader.size + length else { return }
                buffer.moveReaderIndex(forwardBy: YamuxHeader.size)
                let payload = buffer.readSlice(length: length)!
                try apply(header, payload: payload, into: &events)
            case .windowUpdate:
                buffer.moveReaderIndex(forwardBy: YamuxHeader.size)
                try apply(header, payload: nil, into: &events)
            case .ping:
                buffer.moveReaderIndex(forwardBy: YamuxHeader.size)
                if header.flags.contains(.syn) {
                    events.append(
                        .send(YamuxHeader.frame(.init(kind: .ping, flags: .ack, streamID: 0, length: header.length))))
                }
            case .goAway:
                buffer.moveReaderIndex(forwardBy: YamuxHeader.size)
                events.append(.goAway)
            }
        }
    }

    private mutating func apply(_ header: YamuxHeader, payload: ByteBuffer?, into events: inout [MuxerEvent])
        throws(P2PError)
    {
        let id = header.streamID
        guard id != 0 else { throw .violation("yamux stream frame on stream 0") }
        if header.flags.contains(.syn) {
            guard !isLocal(id) else { throw .violation("yamux peer opened stream \(id) of this side's numbering") }
            guard streams[id] == nil else { throw .violation("yamux peer reopened stream \(id)") }
            highestRemote = max(highestRemote, id)
            if streams.count >= limits.maximumStreams {
                events.append(
                    .send(YamuxHeader.frame(.init(kind: .windowUpdate, flags: .rst, streamID: id, length: 0))))
                return
            }
            streams[id] = Stream(
                receiveWindow: receiveWindow, sendWindow: Self.initialWindow, awaitingAck: false)
            events.append(.opened(key(id)))
            events.append(
                .send(YamuxHeader.frame(.init(kind: .windowUpdate, flags: .ack, streamID: id, length: windowGrowth))))
        }
        guard var stream = streams[id] else {
            // A stream this side reset or refused, or one already finished: its frames are dropped.
            guard isLocal(id) ? id < nextID : id <= highestRemote else {
                throw .violation("yamux frame for stream \(id), which was never opened")
            }
            return
        }
        if header.flags.contains(.ack) { stream.awaitingAck = false }
        if header.kind == .windowUpdate, header.length > 0 {
            let widened = stream.sendWindow + Int(header.length)
            guard widened <= Int(UInt32.max) else { throw .violation("yamux window over 4 GiB") }
            stream.sendWindow = widened
            events.append(.windowOpened(key(id)))
        }
        if let payload, payload.readableBytes > 0 {
            guard !stream.remoteClosed else { throw .violation("yamux data after FIN on stream \(id)") }
            stream.receiveWindow -= payload.readableBytes
            events.append(.data(key(id), payload))
        }
        if header.flags.contains(.rst) {
            streams[id] = nil
            events.append(.reset(key(id)))
            return
        }
        if header.flags.contains(.fin), !stream.remoteClosed {
            stream.remoteClosed = true
            events.append(.remoteClosed(key(id)))
        }
        streams[id] = stream
    }

    mutating func open() throws(P2PError) -> (StreamKey, ByteBuffer) {
        guard streams.count < limits.maximumStreams else {
            throw .limit("\(limits.maximumStreams) streams are open on this connection")
        }
        guard nextID < UInt32.max - 2 else { throw .limit("yamux stream numbers exhausted") }
        let id = nextID
        nextID += 2
        streams[id] = Stream(receiveWindow: receiveWindow, sendWindow: Self.initialWindow, awaitingAck: true)
        return (key(id), YamuxHeader.frame(.init(kind: .windowUpdate, flags: .syn, streamID: id, length: windowGrowth)))
    }

    func sendable(_ key: StreamKey) -> Int {
        guard let stream = streams[UInt32(key.id)], !stream.localClosed else { return 0 }
        return min(stream.sendWindow, Self.maximumFrame)
    }

    mutating func frame(_ data: ByteBuffer, on key: StreamKey) -> ByteBuffer {
        let id = UInt32(key.id)
        streams[id]?.sendWindow -= data.readableBytes
        return YamuxHeader.frame(
            .init(kind: .data, flags: [], streamID: id, length: UInt32(data.readableBytes)), payload: data)
    }

    mutating func consumed(_ count: Int, on key: StreamKey) -> ByteBuffer? {
        let id = UInt32(key.id)
        guard var stream = streams[id], !stream.remoteClosed else { return nil }
        stream.credit += count
        defer { streams[id] = stream }
        guard stream.credit >= receiveWindow / 2 else { return nil }
        let delta = stream.credit
        stream.receiveWindow += delta
        stream.credit = 0
        return YamuxHeader.frame(.init(kind: .windowUpdate, flags: [], streamID: id, length: UInt32(delta)))
    }

    mutating func closeWrite(_ key: StreamKey) -> ByteBuffer? {
        let id = UInt32(key.id)
        guard var stream = streams[id], !stream.localClosed else { return nil }
        stream.localClosed = true
        streams[id] = stream
        return YamuxHeader.frame(.init(kind: .windowUpdate, flags: .fin, streamID: id, length: 0))
    }

    mutating func reset(_ key: StreamKey) -> ByteBuffer? {
        let id = UInt32(key.id)
        guard streams.removeValue(forKey: id) != nil else { return nil }
        return YamuxHeader.frame(.init(kind: .windowUpdate, flags: .rst, streamID: id, length: 0))
    }

    mutating func remove(_ key: StreamKey) {
        streams[UInt32(key.id)] = nil
    }

    func goAway() -> ByteBuffer? {
        YamuxHeader.frame(.init(kind: .goAway, flags: [], streamID: 0, length: 0))
    }
}
