"""CAM on the demo classifier, whose objects' pixels are known: Grad-CAM must point at the
object (pointing game), and deleting pixels in Grad-CAM's order must hurt the class more
than deleting them in a random order (Petsiuk et al. 2018). Fresh samples: seeds the
training script never uses (scripts/train_demo.py uses 10000-10005 for training, 1, 1000,
2000 and 7)."""
import cv2
import numpy as np

from convscope.engine import from_array
from convscope.engine.cam import compute_cam
from convscope.engine.cam.faithfulness import deletion_auc, insertion_auc
from convscope.engine.demo_shapes import make_batch

POINT_SEED, FAITH_SEED = 7301, 7302


def _hits(results, masks, dilate=3):
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
    hits = []
    for r, mask in zip(results, masks):
        up = r.upsampled()
        y, x = np.unravel_index(np.argmax(up), up.shape)
        hits.append(bool(cv2.dilate(mask.astype(np.uint8), kernel)[y, x]))
    return np.array(hits)


def test_gradcam_points_at_the_object(demo_model):
    images, labels, masks = make_batch(100, POINT_SEED)
    imgs = [from_array(a, name=f"sample{i}") for i, a in enumerate(images)]
    assert demo_model.default_cam_layer is not None
    results = compute_cam(demo_model, imgs, "gradcam", class_index=list(labels))
    assert all(r.heatmap.max() == 1.0 for r in results)
    rate = _hits(results, masks).mean()
    assert rate >= 0.90, f"Grad-CAM pointing game {rate:.2f} < 0.90"
    # CAM on this GAP + Dense head is Grad-CAM up to scale: same answer
    cams = compute_cam(demo_model, imgs[:20], "cam", class_index=list(labels[:20]))
    for c, g in zip(cams, results[:20]):
        np.testing.assert_allclose(c.heatmap, g.heatmap, atol=1e-4)


def test_gradcam_deletion_beats_random_map(demo_model):
    n = 32
    images, labels, _ = make_batch(n, FAITH_SEED)
    imgs = [from_array(a, name=f"sample{i}") for i, a in enumerate(images)]
    cams = compute_cam(demo_model, imgs, "gradcam", class_index=list(labels))
    rng = np.random.default_rng(0)
    random_maps = [rng.random(c.heatmap.shape).astype(np.float32) for c in cams]
    heat = [c.heatmap for c in cams]
    kw = dict(class_index=list(labels), steps=20, batch_size=64)
    # RISE's own substrates: deletion to black, insertion from a blurred copy
    del_cam = np.array(deletion_auc(demo_model, imgs, heat, **kw))
    del_rnd = np.array(deletion_auc(demo_model, imgs, random_maps, **kw))
    assert del_cam.mean() < del_rnd.mean(), (del_cam.mean(), del_rnd.mean())
    ins_cam = np.array(insertion_auc(demo_model, imgs, heat, **kw))
    ins_rnd = np.array(insertion_auc(demo_model, imgs, random_maps, **kw))
    assert ins_cam.mean() > ins_rnd.mean() + 0.1, (ins_cam.mean(), ins_rnd.mean())
    assert (ins_cam > ins_rnd).mean() >= 0.9
    # Black fill leaves the object's silhouette, which is all a shape classifier needs, so
    # the black-deletion margin is small here; blurring the deleted pixels removes the
    # shape, and there Grad-CAM's order must win clearly, image by image.
    del_cam = np.array(deletion_auc(demo_model, imgs, heat, substrate="blur", **kw))
    del_rnd = np.array(deletion_auc(demo_model, imgs, random_maps, substrate="blur", **kw))
    assert del_cam.mean() < del_rnd.mean() - 0.1, (del_cam.mean(), del_rnd.mean())
    assert (del_cam < del_rnd).mean() >= 0.8
