package assistant_analytics.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's raw local file system, with a file's or folder's permissions set inside the JVM.
 *
 * Without Hadoop's native library (pyspark ships none), RawLocalFileSystem sets them by running a
 * `chmod` process for every file and folder Spark writes: most of the processes a local Spark run
 * starts, and a share of its CPU (docs/spark.md). The same mode bits are set here through java.nio.
 * Only the nine rwx bits: Spark's local tables never ask for setuid, setgid or sticky bits.
 */
public class InProcessChmodFileSystem extends RawLocalFileSystem {
    // bit i of the mode, from the lowest (others' execute) to the highest (owner's read)
    private static final PosixFilePermission[] MODE_BITS = {
        PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
        PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
        PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ,
    };

    @Override
    public void setPermission(Path path, FsPermission permission) throws IOException {
        short mode = permission.toShort();
        Set<PosixFilePermission> bits = EnumSet.noneOf(PosixFilePermission.class);
        for (int i = 0; i < MODE_BITS.length; i++) {
            if ((mode & (1 << i)) != 0) {
                bits.add(MODE_BITS[i]);
            }
        }
        Files.setPosixFilePermissions(pathToFile(path).toPath(), bits);
    }
}
