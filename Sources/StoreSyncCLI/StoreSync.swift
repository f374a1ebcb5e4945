import ArgumentParser

/// The `storesync` command-line tool.
@main
struct StoreSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storesync",
        abstract: "Keep message store archives identical with Negentropy range-based set reconciliation.",
        subcommands: [
            Demo.self, Node.self, Import.self, Push.self, Sync.self, Query.self, Count.self, Stats.self, Load.self,
        ]
    )
}
