package parts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The launcher's patches must apply to the installed moto: one that no
// longer applies leaves moto correct but several times slower, and the
// host scenario library's latency budgets would fail for no visible reason.
func TestMotoLauncherPatchesApply(t *testing.T) {
	py, err := motoPython()
	if err != nil {
		t.Skipf("moto is not installed (%v)", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "moto_serial.py"), []byte(MotoSerialLauncher), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", `import sys; sys.path.insert(0, sys.argv[1]); import moto_serial as m
m.patch_transact_backup(); m.patch_attribute_value_serializer()
import moto.dynamodb.models as models
assert models.DynamoDBBackend.transact_write_items.__module__ == "moto_serial", "transact not patched"
from moto.core.serialize import BaseJSONSerializer
assert BaseJSONSerializer._serialize_type_structure.__module__ == "moto_serial", "serializer not patched"
`, dir)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "not patched") {
		t.Fatalf("the moto launcher's patches do not apply to this moto: %v\n%s", err, out)
	}
}
