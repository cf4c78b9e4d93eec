"""moto's own server (moto.server.main, what `moto_server` runs), with one lookup made cheaper.

moto 5.2.5 finds the account of a request's access key with `moto.iam.models.get_account_id_from`,
which walks every account it knows and, for each, every partition in `PARTITION_NAMES`, reading
`account[partition]`: that read *creates* the account's IAM backend for the partition when it does
not exist yet, loading all of AWS's managed policies into it (MOTO_IAM_LOAD_MANAGED_POLICIES=true),
about 0.15 s each. A suite that makes hundreds of accounts paid that for every account and every
partition, most of the suite's emulator time. Here the walk reads only the backends that exist: a
backend never created holds no access key, so the answer is the same, and a backend is still
created, as before, the first time a request needs it. Nothing else is changed.
"""

import moto.iam.models as iam_models
from moto.server import main


def get_account_id_from(access_key: str) -> str:
    for account_id, account in list(iam_models.iam_backends.items()):
        for partition in iam_models.PARTITION_NAMES:
            # dict.get: the backends that exist, without creating the others.
            backend = dict.get(account, partition)
            if backend is not None and access_key in backend.access_keys:
                return account_id
    return iam_models.DEFAULT_ACCOUNT_ID


# moto.core.responses imports it from the module at each request, so this is what it calls.
iam_models.get_account_id_from = get_account_id_from

if __name__ == "__main__":
    main()
