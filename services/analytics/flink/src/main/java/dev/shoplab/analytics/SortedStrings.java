package dev.shoplab.analytics;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.AggregateFunction;

/** The window's order ids, duplicates kept, sorted by UTF-8 bytes as Go's slices.Sort. */
@FunctionHint(
    input = @DataTypeHint("STRING"),
    output = @DataTypeHint("ARRAY<STRING>"))
public final class SortedStrings extends AggregateFunction<String[], SortedStrings.Acc> {
  /** The ids seen. */
  public static final class Acc {
    public List<String> ids = new ArrayList<>();
  }

  @Override
  public Acc createAccumulator() {
    return new Acc();
  }

  public void accumulate(Acc acc, String id) {
    if (id != null) {
      acc.ids.add(id);
    }
  }

  public void merge(Acc acc, Iterable<Acc> others) {
    for (Acc o : others) {
      acc.ids.addAll(o.ids);
    }
  }

  @Override
  public String[] getValue(Acc acc) {
    List<String> s = new ArrayList<>(acc.ids);
    s.sort(Bytes::compare);
    return s.toArray(new String[0]);
  }
}
