"""Pixel attributions and the extra CAM machinery (issue 10).

Methods (each module holds its paper's definition next to the code):
- `saliency`: Saliency (Simonyan et al. 2014) and SmoothGrad (Smilkov et al. 2017);
- `integrated_gradients`: Integrated Gradients (Sundararajan et al. 2017);
- `guided`: Guided Backprop (Springenberg et al. 2015), Guided Grad-CAM (Selvaraju et al. 2017);
- `occlusion`: Occlusion (Zeiler & Fergus 2014);
- `rise`: RISE (Petsiuk et al. 2018);
- `ablation`: Ablation-CAM (Desai & Ramaswamy 2020);
- `smoothing`: aug_smooth and eigen_smooth for every CAM method.
`entries` registers them in engine.cam.registry (one entry each); `methods` holds the
registry's compute functions; `graphs` the compiled TensorFlow computations; `display`
how a pixel map is drawn. All are reached through `ConvModel.cam(image, method=...,
**options)`. Importing this package imports nothing heavy (the registry needs that).
"""
