package dev.shoplab.analytics;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Go's string order: UTF-8 bytes compared unsigned (Java's is UTF-16). */
final class Bytes {
  private Bytes() {}

  static int compare(String a, String b) {
    return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }
}
