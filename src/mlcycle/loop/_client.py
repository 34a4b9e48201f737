"""Replaying rows to a running model server over HTTP, as a production client would."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pandas as pd

from mlcycle.core import ServingError


def json_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as JSON-safe records (NaN becomes null)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")  # type: ignore[return-value]


@dataclass
class ReplayClient:
    """Sends rows to `POST /predict` in batches and keeps count of failures.

    Args:
        url: the server's base URL, e.g. `http://127.0.0.1:8123`.
        batch_rows: rows per request.
    """

    url: str
    batch_rows: int = 24
    requests: int = 0
    failed: int = 0
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.url, timeout=30.0)

    def predict(self, frame: pd.DataFrame) -> tuple[list[str], list[int]]:
        """Send every row; return the prediction ids and the serving version of each row.

        Raises:
            ServingError: if a request fails (it is counted in `failed` first).
        """
        ids: list[str] = []
        versions: list[int] = []
        for start in range(0, len(frame), self.batch_rows):
            body = json_records(frame.iloc[start : start + self.batch_rows])
            self.requests += 1
            try:
                response = self._http.post("/predict", json=body)
                response.raise_for_status()
            except httpx.HTTPError as err:
                self.failed += 1
                raise ServingError(f"request to {self.url}/predict failed: {err}") from None
            answer = response.json()
            ids.extend(answer["ids"])
            versions.extend([answer["model_version"]] * len(answer["ids"]))
        return ids, versions

    def served_version(self, model: str) -> int:
        """The version the server currently serves (from OIP model metadata)."""
        response = self._http.get(f"/v2/models/{model}")
        response.raise_for_status()
        return int(response.json()["versions"][0])

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()
