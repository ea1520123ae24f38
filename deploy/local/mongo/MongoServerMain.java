import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The local stack's MongoDB wire-protocol server: mongo-java-server on a loopback port.
 *
 * <pre>
 * java -cp '.cache/mongo/lib/*:.cache/mongo/classes' MongoServerMain \
 *     [--host 127.0.0.1] [--port 27027] [--data FILE.mv.db | --memory] [--log-level warn]
 * </pre>
 *
 * With --data the H2 MVStore backend keeps the databases in FILE (they survive a restart); with
 * --memory they live in the heap and are gone when the process ends. SIGTERM closes the store.
 */
public final class MongoServerMain {

    /**
     * What the server says it is in the handshake. mongo-java-server's newest preset (MONGO_5_0)
     * reports wire version 8, below the 9 (MongoDB 4.4) that PyMongo 4.14+ requires. Wire version
     * 9 is the lowest PyMongo accepts, so it asks for nothing newer than it must.
     */
    private static final MongoVersion ADVERTISED = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    private MongoServerMain() {}

    public static void main(String[] args) throws InterruptedException {
        String host = "127.0.0.1";
        int port = 27027;
        String data = null;
        boolean memory = false;
        String logLevel = "warn";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--host" -> host = args[++i];
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--data" -> data = args[++i];
                case "--memory" -> memory = true;
                case "--log-level" -> logLevel = args[++i];
                default -> {
                    System.err.println("unknown argument: " + args[i]);
                    System.exit(2);
                }
            }
        }
        if ((data == null) == !memory) {
            System.err.println("pass exactly one of --data FILE or --memory");
            System.exit(2);
        }
        // Before the first logger exists: slf4j-simple reads it once.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", logLevel);
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");

        MongoBackend backend = memory ? new MemoryBackend() : new H2Backend(data);
        backend.version(ADVERTISED);
        MongoServer server = new MongoServer(backend);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdown(); // closes the backend: the H2 store is committed and closed
            stopped.countDown();
        }));
        server.bind(host, port);
        System.out.println("mongo-java-server listening on " + host + ":" + port
                + (memory ? " (memory backend)" : " (H2 backend, " + data + ")"));
        stopped.await();
    }
}
