# tflint with its built-in terraform ruleset only: the AWS and Google
# rulesets are plugins that cannot be downloaded where CI runs.
config {
  # Local modules are evaluated; registry modules cannot be fetched here.
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
