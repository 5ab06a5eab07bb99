package dev.shoplab.analytics;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.AggregateFunction;
import org.apache.flink.types.Row;

/**
 * Up to three products by units sold in a window, units descending, ties by
 * product id ascending (byte order, as Go's string comparison), units &gt; 0
 * only: the Go engine's windowAcc.window rule.
 */
@FunctionHint(
    input = @DataTypeHint("ARRAY<ROW<product_id STRING, quantity INT, unit_price_cents BIGINT, category STRING>>"),
    output = @DataTypeHint("ARRAY<ROW<product_id STRING, units BIGINT>>"))
public final class TopProducts extends AggregateFunction<Row[], TopProducts.Acc> {
  static final int LIMIT = 3;

  /** Units per product. */
  public static final class Acc {
    public Map<String, Long> units = new HashMap<>();
  }

  @Override
  public Acc createAccumulator() {
    return new Acc();
  }

  public void accumulate(Acc acc, Row[] items) {
    if (items == null) {
      return;
    }
    for (Row it : items) {
      if (it == null) {
        continue;
      }
      String id = (String) it.getField(0);
      Integer q = (Integer) it.getField(1);
      acc.units.merge(id == null ? "" : id, q == null ? 0L : q.longValue(), Long::sum);
    }
  }

  public void merge(Acc acc, Iterable<Acc> others) {
    for (Acc o : others) {
      o.units.forEach((k, v) -> acc.units.merge(k, v, Long::sum));
    }
  }

  @Override
  public Row[] getValue(Acc acc) {
    List<Map.Entry<String, Long>> top = new ArrayList<>();
    for (Map.Entry<String, Long> e : acc.units.entrySet()) {
      if (e.getValue() > 0) {
        top.add(e);
      }
    }
    top.sort((a, b) -> {
      int c = Long.compare(b.getValue(), a.getValue());
      return c != 0 ? c : Bytes.compare(a.getKey(), b.getKey());
    });
    int n = Math.min(LIMIT, top.size());
    Row[] out = new Row[n];
    for (int i = 0; i < n; i++) {
      out[i] = Row.of(top.get(i).getKey(), top.get(i).getValue());
    }
    return out;
  }
}
