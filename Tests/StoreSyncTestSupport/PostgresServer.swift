import Foundation

/// A PostgreSQL server of a test's own: a cluster made by `initdb` in a temporary directory,
/// listening on a free port of 127.0.0.1, with one superuser whose password is known. Started
/// as the `postgres` user when the tests run as root (the server refuses to run as root);
/// stopped and removed by `stop()`. Every wait is on a child process, never on a thread of the
/// cooperative pool.
public final class PostgresServer: Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case notInstalled
        case command(String, status: Int32, output: String)

        public var description: String {
            switch self {
            case .notInstalled:
                "PostgreSQL is not installed (apt-get install postgresql): no initdb under /usr/lib/postgresql"
            case .command(let command, let status, let output): "\(command) exited with \(status): \(output)"
            }
        }
    }

    public let directory: String
    public let port: Int
    public let username = "storesync"
    public let password: String
    /// With TLS, the server's certificate (PEM, for `localhost` and 127.0.0.1): the root a
    /// client verifies it with. Such a server refuses TCP connections without TLS, and to its
    /// database `clientcert` those without a client certificate it signed for the user.
    public let certificate: String?
    /// With TLS, a client certificate (PEM) for the user, signed by `certificate`, and its key.
    public var clientCertificate: String? { certificate.map { _ in directory + "/client.crt" } }
    public var clientKey: String? { certificate.map { _ in directory + "/client.key" } }
    private let binaries: String

    /// The URL of database `database` of this server, with the right password or `password`.
    public func url(database: String = "postgres", password: String? = nil) -> String {
        "postgres://\(username):\(password ?? self.password)@127.0.0.1:\(port)/\(database)"
    }

    private init(directory: String, port: Int, password: String, certificate: String?, binaries: String) {
        self.directory = directory
        self.port = port
        self.password = password
        self.certificate = certificate
        self.binaries = binaries
    }

    /// Makes a cluster and starts its server; with `tls`, one that takes TCP connections only
    /// over TLS, with a self-signed certificate made here.
    public static func start(tls: Bool = false) async throws -> PostgresServer {
        guard let binaries = installedBinaries() else { throw Failure.notInstalled }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "storesync-pg-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let password = UUID().uuidString
        try Data(password.utf8).write(to: URL(fileURLWithPath: directory + "/pwfile"))
        if getuid() == 0 {
            try await run("/bin/chown", ["-R", "postgres", directory])
        }
        try await asServerUser(
            "\(binaries)/initdb -D \(directory)/data -U storesync --pwfile=\(directory)/pwfile -A scram-sha-256 --no-sync"
        )
        let certificate = tls ? directory + "/server.crt" : nil
        if tls {
            try await asServerUser(
                "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
                    + " -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
                    + " -keyout \(directory)/server.key -out \(directory)/server.crt 2>/dev/null"
                    + " && chmod 600 \(directory)/server.key"
                    + " && openssl req -new -newkey rsa:2048 -nodes -subj /CN=storesync"
                    + " -keyout \(directory)/client.key -out \(directory)/client.csr"
                    + " && openssl x509 -req -in \(directory)/client.csr -CA \(directory)/server.crt"
                    + " -CAkey \(directory)/server.key -CAcreateserial -days 2 -out \(directory)/client.crt"
                    + " && chmod 644 \(directory)/client.key"
                    + " && printf 'local all all scram-sha-256\\n"
                    + "hostssl clientcert all 127.0.0.1/32 scram-sha-256 clientcert=verify-full\\n"
                    + "hostssl all all 127.0.0.1/32 scram-sha-256\\n"
                    + "hostnossl all all 127.0.0.1/32 reject\\n' > \(directory)/data/pg_hba.conf"
                    + " && printf \"ssl = on\\nssl_cert_file = '\(directory)/server.crt'\\n"
                    + "ssl_key_file = '\(directory)/server.key'\\nssl_ca_file = '\(directory)/server.crt'\\n\""
                    + " >> \(directory)/data/postgresql.conf")
        }
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try freePort()
            do {
                try await asServerUser(
                    "\(binaries)/pg_ctl -D \(directory)/data -l \(directory)/log -w -t 60 -o \"-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off\" start"
                )
                return PostgresServer(
                    directory: directory, port: port, password: password, certificate: certificate, binaries: binaries)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? Failure.notInstalled
    }

    /// Stops the server at once (fast shutdown) and removes its cluster.
    public func stop() async {
        _ = try? await Self.asServerUser("\(binaries)/pg_ctl -D \(directory)/data -m fast -w stop")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops the server (immediate shutdown, as a crash) and starts it again on the same port.
    public func restart() async throws {
        try await halt()
        try await resume()
    }

    /// Stops the server at once, as a crash, keeping its cluster for `resume()`.
    public func halt() async throws {
        try await Self.asServerUser("\(binaries)/pg_ctl -D \(directory)/data -m immediate -w stop")
    }

    /// Starts a halted server again on the same port.
    public func resume() async throws {
        try await Self.asServerUser(
            "\(binaries)/pg_ctl -D \(directory)/data -l \(directory)/log -w -t 60 -o \"-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off\" start"
        )
    }

    /// Runs SQL through psql as the superuser; returns its output (unaligned, tuples only).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await Self.run(
            "\(binaries)/psql",
            [
                "-h", "127.0.0.1", "-p", "\(port)", "-U", username, "-d", database, "-v", "ON_ERROR_STOP=1", "-At",
                "-c", sql,
            ],
            environment: ["PGPASSWORD": password])
    }

    /// Runs the SQL of a file through psql as the superuser, in one transaction.
    public func psql(file: String, database: String = "postgres") async throws {
        try await Self.run(
            "\(binaries)/psql",
            [
                "-h", "127.0.0.1", "-p", "\(port)", "-U", username, "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-1",
                "-f", file,
            ],
            environment: ["PGPASSWORD": password])
    }

    private static func installedBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted().reversed().map { "\(root)/\($0)/bin" }.first {
            FileManager.default.isExecutableFile(atPath: $0 + "/initdb")
        }
    }

    /// Runs a shell command as the `postgres` user when this process is root, else as itself.
    /// Its output goes to a file, not a pipe: a server it starts would hold a pipe open.
    @discardableResult
    private static func asServerUser(_ command: String) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "storesync-pg-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        if getuid() == 0 { _ = try await run("/bin/chown", ["postgres", output.path]) }
        let redirected = "exec >\(output.path) 2>&1 </dev/null; \(command)"
        let status =
            getuid() == 0
            ? try await spawnAndWait("/bin/su", ["postgres", "-s", "/bin/bash", "-c", redirected])
            : try await spawnAndWait("/bin/bash", ["-c", redirected])
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw Failure.command(command, status: status, output: text) }
        return text
    }

    /// Starts a program and waits for its exit on a thread of its own (Foundation's Process does
    /// not always report the exit of a command whose child stays behind as a daemon).
    private static func spawnAndWait(_ executable: String, _ arguments: [String]) async throws -> Int32 {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                let argv = ([executable] + arguments).map { strdup($0) } + [nil]
                defer { for pointer in argv { free(pointer) } }
                var pid: pid_t = 0
                let spawned = posix_spawn(&pid, executable, nil, nil, argv, environ)
                guard spawned == 0 else {
                    continuation.resume(
                        throwing: Failure.command(executable, status: spawned, output: "posix_spawn failed"))
                    return
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let exited = status & 0x7F == 0
                continuation.resume(returning: exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
            }.start()
        }
    }

    @discardableResult
    private static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil)
        async throws -> String
    {
        let (status, output) = try await ChildProcess.run(
            URL(fileURLWithPath: executable), arguments, environment: environment)
        guard status == 0 else {
            throw Failure.command(([executable] + arguments).joined(separator: " "), status: status, output: output)
        }
        return output
    }

    /// A port of 127.0.0.1 free now: bound to port 0, read, released.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.command("socket", status: errno, output: "") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure.command("bind", status: errno, output: "") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs `body` with a server of its own (taking only TLS with `tls`), stopped afterwards
/// whatever `body` does.
public func withPostgresServer<T>(tls: Bool = false, _ body: (PostgresServer) async throws -> T) async throws -> T {
    let server = try await PostgresServer.start(tls: tls)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
