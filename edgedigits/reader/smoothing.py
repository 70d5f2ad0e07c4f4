"""Labels that do not flicker: boxes tracked across frames by overlap, each track's label voted over its last
frames, weighted by confidence."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from edgedigits.reader.vision import Detection, iou


@dataclass
class Track:
    box: tuple
    votes: collections.deque
    missed: int = 0


@dataclass
class Smoother:
    """Track boxes across frames by IoU and vote over the last ``window`` labels, so labels do not flicker."""

    window: int = 5
    min_iou: float = 0.3
    max_missed: int = 3
    tracks: list = field(default_factory=list)

    def update(self, detections: list[Detection]) -> list[Detection]:
        if self.window <= 1:
            return detections
        pairs = sorted(((iou(d.box, t.box), i, j) for i, d in enumerate(detections) for j, t in enumerate(self.tracks)),
                       reverse=True)
        matched_d, matched_t = {}, set()
        for overlap, i, j in pairs:
            if overlap < self.min_iou:
                break
            if i not in matched_d and j not in matched_t:
                matched_d[i] = j
                matched_t.add(j)
        for j, track in enumerate(self.tracks):
            if j not in matched_t:
                track.missed += 1
        for i, det in enumerate(detections):
            if i in matched_d:
                track = self.tracks[matched_d[i]]
                track.box, track.missed = det.box, 0
            else:
                track = Track(det.box, collections.deque(maxlen=self.window))
                self.tracks.append(track)
            track.votes.append((det.label, det.confidence or 0.0))
            scores = collections.Counter()
            for label, conf in track.votes:
                scores[label] += conf
            label = scores.most_common(1)[0][0]
            votes = [conf for lab, conf in track.votes if lab == label]
            det.label, det.confidence = label, sum(votes) / len(votes)
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return detections
