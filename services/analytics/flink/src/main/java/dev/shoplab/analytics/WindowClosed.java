package dev.shoplab.analytics;

import java.time.Instant;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * Whether the tumbling window of ts (size ms, epoch aligned, floor) has
 * fired at watermark wm: window end - 1 ms &lt;= wm, Flink's
 * TimeWindowUtil.isWindowFired and the Go engine's closed().
 */
public final class WindowClosed extends ScalarFunction {
  public boolean eval(
      @DataTypeHint("TIMESTAMP_LTZ(3)") Instant ts, @DataTypeHint("TIMESTAMP_LTZ(3)") Instant wm, long size) {
    if (ts == null || wm == null || size <= 0) {
      return false;
    }
    long start = Math.floorDiv(ts.toEpochMilli(), size) * size;
    return start + size - 1 <= wm.toEpochMilli();
  }
}
