"""ChunkedReidEvaluator: FastReID's ReidEvaluator with the ranking done by chunked_evaluate_rank —
the same metrics and result keys, without the full query x gallery matrix and its full sort.

Drop-in for any FastReID trainer (``build_evaluator`` returning it); MultimodalTrainer uses it unless
TEST.EVALUATOR is "fastreid". TEST.AQE works through it (query expansion happens on the features
first); TEST.RERANK and TEST.ROC need the full distance matrix and go to the stock path, with one
log line.

All-vs-all test sets (query = gallery, SynthPerson) are fed once: with ``gallery_is_query`` the
loader holds every test image once and the features serve as queries and as gallery, which gives
FastReID's numbers on the doubled list (the query itself is dropped by the same-identity-same-
camera rule either way) at half the feature cost. ``per_query_ap`` keeps the AP (percent) of every
query with a valid match, in query order, for bootstrapping over queries.
"""
import copy
import itertools
import logging
from collections import OrderedDict

import numpy as np
import torch
from fastreid.evaluation import ReidEvaluator
from fastreid.evaluation.query_expansion import aqe
from fastreid.utils import comm

from .chunked_ranking import chunked_evaluate_rank

logger = logging.getLogger("fastreid.multimodal")
EVALUATORS = ("chunked", "fastreid")


def ranking_device():
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


class ChunkedReidEvaluator(ReidEvaluator):
    def __init__(self, cfg, num_query, output_dir=None, chunk_size=256, gallery_is_query=False):
        super().__init__(cfg, num_query, output_dir)
        self.chunk_size = chunk_size
        self.gallery_is_query = gallery_is_query
        self.per_query_ap = []

    def _compile_dependencies(self):
        pass  # no Cython ranking needed (the stock fallback compiles or falls back itself)

    def evaluate(self):
        if self.cfg.TEST.RERANK.ENABLED or self.cfg.TEST.ROC.ENABLED:
            logger.info("TEST.RERANK / TEST.ROC need the full distance matrix: FastReID's stock "
                        "evaluation is used for this data set")
            return super().evaluate()
        predictions = self._gathered()
        if predictions is None:
            return {}
        feats = torch.cat([p["feats"] for p in predictions])
        pids = torch.cat([p["pids"] for p in predictions]).numpy()
        camids = torch.cat([p["camids"] for p in predictions]).numpy()
        n = self._num_query
        if self.gallery_is_query:  # one copy of every test image: it is query and gallery
            feats, pids, camids = (torch.cat([feats, feats]), np.concatenate([pids, pids]),
                                   np.concatenate([camids, camids]))
        query, gallery = feats[:n], feats[n:]
        if self.cfg.TEST.AQE.ENABLED:
            aqe_cfg = self.cfg.TEST.AQE
            query, gallery = aqe(query, gallery, aqe_cfg.QE_TIME, aqe_cfg.QE_K, aqe_cfg.ALPHA)
        device = ranking_device()
        cmc, all_ap, all_inp = chunked_evaluate_rank(
            query.to(device), gallery.to(device), pids[:n], pids[n:], camids[:n], camids[n:],
            metric=self.cfg.TEST.METRIC, chunk_size=self.chunk_size)
        mAP, mINP = np.mean(all_ap), np.mean(all_inp)
        self.per_query_ap = [float(ap) * 100 for ap in all_ap]
        self._results = OrderedDict()
        for r in (1, 5, 10):
            self._results[f"Rank-{r}"] = cmc[r - 1] * 100
        self._results["mAP"] = mAP * 100
        self._results["mINP"] = mINP * 100
        self._results["metric"] = (mAP + cmc[0]) / 2 * 100
        return copy.deepcopy(self._results)

    def _gathered(self):
        """Every process's predictions on the main process (None elsewhere), as ReidEvaluator."""
        if comm.get_world_size() > 1:
            comm.synchronize()
            predictions = comm.gather(self._predictions, dst=0)
            if not comm.is_main_process():
                return None
            return list(itertools.chain(*predictions))
        return self._predictions
