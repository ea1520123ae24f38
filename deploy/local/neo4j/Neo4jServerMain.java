import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.kernel.internal.Version;

/**
 * The local stack's Neo4j server: Neo4j 5.26 (embedded, from Maven Central jars) with its Bolt
 * connector on a loopback port and authentication on.
 *
 * <pre>
 * java -Xmx768m -cp '.cache/neo4j/lib/*:.cache/neo4j/classes' Neo4jServerMain \
 *     HOME PORT PASSWORD [PAGECACHE_MB]
 * </pre>
 *
 * HOME holds the databases (HOME/data) and Neo4j's own logs (HOME/logs/debug.log). The user
 * {@code neo4j} gets PASSWORD on every start, so a changed password in stack.env applies on the next
 * start. The Bolt port accepts connections before that, but only with the initial password (which
 * must be changed first): readiness probes log in with PASSWORD, so they pass only once it is set.
 * SIGTERM shuts the databases down cleanly (checkpoint, store closed).
 */
public final class Neo4jServerMain {

    /** What Neo4j answers when PASSWORD is already the user's password (every restart). */
    private static final String SAME_PASSWORD = "Old password and new password cannot be the same";

    private Neo4jServerMain() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length < 3 || args.length > 4) {
            System.err.println("usage: Neo4jServerMain HOME PORT PASSWORD [PAGECACHE_MB]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        String password = args[2];
        long pagecacheMb = args.length == 4 ? Long.parseLong(args[3]) : 128;
        Instant started = Instant.now();

        DatabaseManagementService service = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                // The default page cache is half of the machine's RAM (12 GB on ours): far too much
                // next to the rest of the stack. The local data sets fit in a few MB.
                .setConfig(GraphDatabaseSettings.pagecache_memory, pagecacheMb * 1024 * 1024)
                // Transaction logs: no 256 MB preallocated files, and only the last two kept
                // (the default keeps two days of them).
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                // Bolt stops after the databases (so no transaction is left to finish) and then
                // waits 5 s for its connections and 5 s for its threads: a 12 s SIGTERM -> exit.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time,
                        Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time,
                        Duration.ofSeconds(1))
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("neo4j: shutting down");
            service.shutdown(); // checkpoints and closes every database
            System.out.println("neo4j: stopped");
            stopped.countDown();
        }, "neo4j-shutdown"));

        try {
            setPassword(service, password);
        } catch (RuntimeException e) {
            // Neo4j's threads would keep the JVM alive without a usable login: stop (the hook
            // shuts the databases down) so the supervisor sees the failure.
            e.printStackTrace();
            System.exit(1);
        }
        System.out.println("neo4j " + Version.getNeo4jVersion() + ": Bolt on bolt://127.0.0.1:" + port
                + ", auth on (user neo4j), page cache " + pagecacheMb + " MB, home " + home
                + ", ready in " + Duration.between(started, Instant.now()).toMillis() + " ms");
        stopped.await();
    }

    private static void setPassword(DatabaseManagementService service, String password) {
        try {
            service.database("system").executeTransactionally(
                    "ALTER USER neo4j IF EXISTS SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            if (!causes(e, SAME_PASSWORD)) {
                throw e;
            }
        }
    }

    private static boolean causes(Throwable e, String message) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains(message)) {
                return true;
            }
        }
        return false;
    }

}
