-- The databases of envs/compose.yaml (postgres.databases), created once on
-- the first start of the postgres container (docker-entrypoint-initdb.d).
-- The compose test checks this list against envs/compose.yaml.
CREATE DATABASE shoplab_user OWNER shoplab;
CREATE DATABASE shoplab_order OWNER shoplab;
CREATE DATABASE shoplab_payment OWNER shoplab;
