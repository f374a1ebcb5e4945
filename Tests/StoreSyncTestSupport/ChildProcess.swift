import Foundation
import Synchronization

/// A child process driven from async code without parking a thread of the cooperative pool: its
/// output (standard output and error together) is read line by line, and its input written, by
/// threads of their own; its exit arrives through a termination handler. A child still running
/// when this is released is killed.
public final class ChildProcess {
    private struct Exit {
        var status: (code: Int32, reason: Process.TerminationReason)?
        var waiters: [CheckedContinuation<(code: Int32, reason: Process.TerminationReason), Never>] = []
    }

    /// What the handlers, on threads of Foundation's, share with the owner.
    private final class Shared: Sendable {
        let exit = Mutex(Exit())
        let pending = Mutex("")
    }

    private let process = Process()
    private let shared = Shared()
    /// The child's standard input when it is kept open for `send(line:)`, and the queue (a thread
    /// of Dispatch's, not the cooperative pool) that writes to it in order.
    private let input: FileHandle?
    private let inputQueue = DispatchQueue(label: "storesync.child-input")
    private var iterator: AsyncStream<String>.Iterator
    /// Every line read so far.
    public private(set) var lines: [String] = []

    /// The child's process id.
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Starts `executable` with `arguments`; `input`, if given, is written to its standard input,
    /// which is then closed. Standard error is read with the output unless `discardErrors`.
    public init(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, input: Data? = nil,
        discardErrors: Bool = false, interactive: Bool = false
    ) throws {
        process.executableURL = executable
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = discardErrors ? FileHandle.nullDevice : output
        let (stream, continuation) = AsyncStream<String>.makeStream()
        iterator = stream.makeAsyncIterator()
        let shared = self.shared
        let reading = output.fileHandleForReading
        // Output is read by a thread of its own, with blocking reads until end of file (a
        // readability handler is not told of the end on Linux).
        let reader = Thread {
            while true {
                let chunk = reading.availableData
                if chunk.isEmpty { break }
                let complete = shared.pending.withLock { text -> [String] in
                    text += String(decoding: chunk, as: UTF8.self)
                    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    text = lines.removeLast()
                    return lines
                }
                for line in complete { continuation.yield(line) }
            }
            let rest = shared.pending.withLock { rest in
                defer { rest = "" }
                return rest
            }
            if !rest.isEmpty { continuation.yield(rest) }
            continuation.finish()
        }
        process.terminationHandler = { process in
            let status = (process.terminationStatus, process.terminationReason)
            let waiters = shared.exit.withLock { state in
                state.status = status
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
        let stdin = input != nil || interactive ? Pipe() : nil
        if let stdin { process.standardInput = stdin }
        self.input = interactive ? stdin?.fileHandleForWriting : nil
        if interactive { signal(SIGPIPE, SIG_IGN) }
        try process.run()
        reader.start()
        if let stdin, let input {
            // A child that exits before reading all of it closes the pipe: not a signal to die of.
            signal(SIGPIPE, SIG_IGN)
            let handle = stdin.fileHandleForWriting
            Thread {
                try? handle.write(contentsOf: input)
                try? handle.close()
            }.start()
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// The path of an executable built beside the test bundle.
    public static func built(_ name: String) -> URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Reads lines until one satisfies `predicate` (returns it) or the output ends (nil).
    public func nextLine(where predicate: (String) -> Bool = { _ in true }) async -> String? {
        while let line = await iterator.next() {
            lines.append(line)
            if predicate(line) { return line }
        }
        return nil
    }

    /// Reads the rest of the output; returns all of it.
    public func output() async -> String {
        while await nextLine(where: { _ in false }) != nil {}
        return lines.joined(separator: "\n")
    }

    /// Waits for the child to exit.
    @discardableResult
    public func exit() async -> (code: Int32, reason: Process.TerminationReason) {
        await withCheckedContinuation { continuation in
            let status = shared.exit.withLock { state in
                if state.status == nil { state.waiters.append(continuation) }
                return state.status
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// Writes `line` and a newline to the child's standard input (started `interactive`).
    public func send(line: String) {
        guard let input else { return }
        inputQueue.async { try? input.write(contentsOf: Data((line + "\n").utf8)) }
    }

    /// Closes the child's standard input.
    public func closeInput() {
        guard let input else { return }
        inputQueue.async { try? input.close() }
    }

    /// Sends `signal` to the child (SIGTERM asks it to stop, SIGKILL stops it at once).
    public func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Runs `executable` to completion; returns its exit status and its whole output.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, input: Data? = nil,
        discardErrors: Bool = false
    ) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess(
            executable, arguments, environment: environment, input: input, discardErrors: discardErrors)
        let output = await child.output()
        return (await child.exit().code, output)
    }
}
