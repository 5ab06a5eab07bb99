"""moto's server on one thread, for the shoplab host env.

Usage: python3 moto_serial.py HOST PORT

moto_server's own launcher serves each request on a thread of its own, and
moto evaluates a conditional write and applies it without a lock, so two
concurrent conditional PutItems can both win, which DynamoDB never allows.
One thread makes moto as atomic as the service it stands in for.

On one thread, moto's own costs set the platform's throughput, so two of
them are patched here (measured with cProfile under a scenario's load,
moto 5.2). What the one thread still costs a scenario (envs/host.yaml's
scenario_max_rate and scenario_latency_factor) is in README.md, "Real
parts: `shoplab deps` and `--env host`":

* TransactWriteItems deep-copies the whole table once per action, to roll
  back on a failed condition: ~100-200 ms a reservation on a 300-product
  table. The backup here holds only the items the transaction names.
* Every response goes through the botocore shape model, and each DynamoDB
  AttributeValue walks all ten of its members through alias lookups: most
  of a Query's time. moto's items are already in the wire's JSON form, so
  plain values pass through, as moto does for document types; binary ones
  (B, BS) keep the model's path, which base64-encodes them.

A moto whose internals moved refuses a patch and serves unpatched (slower,
still correct), saying so on stderr.
"""
import copy
import sys
import types

from werkzeug.serving import run_simple
from moto.server import DomainDispatcherApplication, create_backend_app


def patch_transact_backup():
    try:
        import moto.dynamodb.models as models
        from moto.dynamodb.models.dynamo_type import DynamoType
        from moto.dynamodb.models.table import Table
        orig = models.DynamoDBBackend.transact_write_items
        models.copy.deepcopy  # the module moto backs tables up with
    except (ImportError, AttributeError) as e:
        print("shoplab: TransactWriteItems backup not patched:", e, file=sys.stderr)
        return

    # Inside moto's models module only: a table "copied" for the backup is
    # the table itself (restored below item by item); anything else is
    # deep-copied as before.
    models.copy = types.SimpleNamespace(
        copy=copy.copy,
        deepcopy=lambda x, memo=None: x if isinstance(x, Table) else copy.deepcopy(x, memo),
    )

    def key_of(table, op):
        key = op.get("Key") or op.get("Item") or {}
        h = DynamoType(key[table.hash_key_attr])
        r = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        return h, r

    def transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                h, r = key_of(table, op)
            except (KeyError, StopIteration, AttributeError, TypeError):
                continue  # malformed: moto itself refuses it
            saved.append((table, h, r, copy.deepcopy(table.get_item(h, r))))
        try:
            return orig(self, transact_items)
        except BaseException:
            for table, h, r, old in reversed(saved):
                if r is None:
                    if old is None:
                        table.items.pop(h, None)
                    else:
                        table.items[h] = old
                elif old is None:
                    table.items.get(h, {}).pop(r, None)
                    if h in table.items and not table.items[h]:
                        del table.items[h]
                else:
                    table.items[h][r] = old
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


def patch_attribute_value_serializer():
    try:
        from moto.core.serialize import BaseJSONSerializer
        orig = BaseJSONSerializer._serialize_type_structure
    except (ImportError, AttributeError) as e:
        print("shoplab: AttributeValue serializer not patched:", e, file=sys.stderr)
        return
    scalar = {"S", "N", "BOOL", "NULL", "SS", "NS"}

    def plain(v):
        if not isinstance(v, dict) or len(v) != 1:
            return False
        ((k, x),) = v.items()
        if k in scalar:
            return True
        if k == "M":
            return isinstance(x, dict) and all(plain(e) for e in x.values())
        if k == "L":
            return isinstance(x, list) and all(plain(e) for e in x)
        return False

    def _serialize_type_structure(self, serialized, value, shape, key):
        if key and shape.name == "AttributeValue" and plain(value):
            serialized[key] = value
            return
        orig(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure


if __name__ == "__main__":
    patch_transact_backup()
    patch_attribute_value_serializer()
    run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False)
