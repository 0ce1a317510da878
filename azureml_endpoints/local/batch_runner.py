"""Azure ML's batch runtime on one machine, for `score-local`: a batch driver's init() once, then run(mini_batch).

Runs in the deployment's own environment: `python batch_runner.py <job.json>`, with the code folder on PYTHONPATH
(the driver's own modules import, as in Azure). The job names the driver, the
input files and the deployment's settings. As "Author scoring scripts for batch deployments" and "Deploy models
for scoring in batch endpoints" describe the runtime:

- the input folder's files (a uri_folder; nested folders are not explored) are split into mini-batches of
  `miniBatchSize` files, in name order; `run()` gets a list of their paths;
- a mini-batch whose run() raises is retried up to `maxRetries` times, then its files count as failed; the job
  fails once more files failed than `errorThreshold` (-1: never);
- AppendRow: every element run() returns is one line of the output file, no header (a DataFrame's rows with
  their columns separated by a space, as the runtime appends them); SummaryOnly: no output file.

The outcome is the last stdout line: `RESULT {json}`.
"""

import importlib.util
import json
import sys
import traceback
from pathlib import Path


def lines(result) -> list[str]:
    if hasattr(result, "to_csv"):  # a pandas DataFrame: its rows, without header or index
        text = result.to_csv(sep=" ", header=False, index=False)
        return text.splitlines()
    return [str(element) for element in result]


def main(job_file: str) -> None:
    job = json.loads(Path(job_file).read_text())
    spec = importlib.util.spec_from_file_location("batch_driver", job["driver"])
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    driver.init()
    files, size = job["files"], job["mini_batch_size"]
    rows, failed, mini_batches = [], 0, 0
    for start in range(0, len(files), size):
        mini_batch = files[start : start + size]
        mini_batches += 1
        for attempt in range(job["max_retries"] + 1):
            try:
                result = driver.run(mini_batch)
                rows += lines(result)
                break
            except Exception:  # noqa: BLE001 the runtime logs it and retries the mini-batch
                print(f"mini-batch {mini_batches} attempt {attempt + 1} failed:\n{traceback.format_exc()}", flush=True)
        else:
            failed += len(mini_batch)
    threshold = job["error_threshold"]
    succeeded = threshold < 0 or failed <= threshold
    output = None
    if succeeded and job["output_action"] == "AppendRow":
        output = Path(job["output_folder"]) / job["output_file_name"]
        output.write_text("".join(f"{row}\n" for row in rows))
    summary = {"mini_batches": mini_batches, "files": len(files), "failed_files": failed, "rows": len(rows)}
    print("RESULT " + json.dumps({**summary, "succeeded": succeeded, "output": str(output) if output else None}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
