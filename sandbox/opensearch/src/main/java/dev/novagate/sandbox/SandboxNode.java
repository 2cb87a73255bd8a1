package dev.novagate.sandbox;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A real OpenSearch node started from Maven Central jars, without the distribution tarball.
 *
 * <p>The distribution's bootstrap loads plugins and modules from directories; here the plugins are
 * on the classpath, so they are handed to {@link Node}'s protected constructor, the same way
 * OpenSearch's own test MockNode does: netty4 (the HTTP and transport layers) always, and every
 * plugin class named after the home directory (the security plugin,
 * {@code org.opensearch.security.OpenSearchSecurityPlugin}), loaded by name so that this launcher
 * compiles without them.
 *
 * <p>Usage: {@code java -cp 'libs/*:sandbox-node.jar' dev.novagate.sandbox.SandboxNode <home> [plugin
 * class ...]}, where {@code <home>/config} holds opensearch.yml and log4j2.properties.
 */
public final class SandboxNode extends Node {

    private SandboxNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: SandboxNode <path.home> [plugin class ...]");
            System.exit(64);
        }
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        plugins.add(Netty4Plugin.class);
        for (int i = 1; i < args.length; i++) {
            plugins.add(Class.forName(args[i]).asSubclass(Plugin.class));
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        Path config = home.resolve("config");
        if (!Files.isRegularFile(config.resolve("opensearch.yml"))) {
            System.err.println("missing " + config.resolve("opensearch.yml"));
            System.exit(78);
        }
        Settings initial = Settings.builder().put("path.home", home.toString()).build();
        Environment environment =
            InternalSettingsPreparer.prepareEnvironment(initial, Map.of(), config, () -> "nova-sandbox");
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment);

        SandboxNode node = new SandboxNode(environment, plugins);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "nova-sandbox-shutdown"));
        node.start();
        // Node threads are daemons in places; keep the JVM alive until SIGTERM.
        Thread keepAlive = new Thread(() -> {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "nova-sandbox-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();
    }
}
