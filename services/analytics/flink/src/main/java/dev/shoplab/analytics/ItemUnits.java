package dev.shoplab.analytics;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;

/** Σ quantity over an event's items (its share of items_sold). */
public final class ItemUnits extends ScalarFunction {
  public long eval(
      @DataTypeHint("ARRAY<ROW<product_id STRING, quantity INT, unit_price_cents BIGINT, category STRING>>") Row[] items) {
    long n = 0;
    if (items == null) {
      return 0;
    }
    for (Row it : items) {
      if (it != null && it.getField(1) != null) {
        n += (Integer) it.getField(1);
      }
    }
    return n;
  }
}
