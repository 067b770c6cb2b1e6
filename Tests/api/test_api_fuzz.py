r"""The API fuzzer (apifuzz.py) against a live `chute serve`: every operation of the Lambda, SQS,
SNS, EventBridge and Kinesis models with generated out-of-range, wrong-type, missing and oversized
values. No answer may be a 5xx (a deliberate 503 excepted), the host may never die, wedge or grow
past its memory limit, a normal request must work after each batch, and SIGTERM must stop it.

Run by scripts/test.sh after `swift build`:  python3 -m unittest discover -s Tests/api -v
Longer, or another seed:  CHUTE_FUZZ_REQUESTS=50000 CHUTE_FUZZ_SECONDS=1200 CHUTE_FUZZ_SEED=5 \
                              python3 -m unittest discover -s Tests/api -p test_api_fuzz.py
Past a known failure:     CHUTE_FUZZ_SKIP='ListStreams Limit=-,Timestamp=' (regular expressions of case labels)
See apifuzz.py for the other variables (CHUTE_FUZZ_ONLY, CHUTE_FUZZ_BIN, CHUTE_FUZZ_REPORT).
"""
import json
import os
import sys
import unittest

import apifuzz


def setting(name, default=None):
    value = os.environ.get(name, "").strip()
    return value if value else default


class APIFuzzTests(unittest.TestCase):
    def test_no_request_crashes_wedges_or_exhausts_the_host(self):
        fuzzer = apifuzz.Fuzzer(binary_dir=setting("CHUTE_FUZZ_BIN"),
                                requests=int(setting("CHUTE_FUZZ_REQUESTS", apifuzz.DEFAULT_REQUESTS)),
                                seconds=int(setting("CHUTE_FUZZ_SECONDS", apifuzz.DEFAULT_SECONDS)),
                                seed=int(setting("CHUTE_FUZZ_SEED", apifuzz.DEFAULT_SEED)),
                                skip=setting("CHUTE_FUZZ_SKIP", "").split(","),
                                only=setting("CHUTE_FUZZ_ONLY"))
        self.addCleanup(fuzzer.cleanup)
        fuzzer.run()
        summary = fuzzer.summary()
        if setting("CHUTE_FUZZ_REPORT"):
            with open(setting("CHUTE_FUZZ_REPORT"), "w") as f:
                json.dump(fuzzer.report(), f, indent=2)
        self.assertEqual(len(fuzzer.failures), 0, summary)
        print("\n" + summary, file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
