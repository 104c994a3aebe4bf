import * as tf from '@tensorflow/tfjs-core';

/**
 * What Grad-CAM needs of a classifier: its feature maps [B, h, w, C] (ConvNeXt's and ResNet's
 * stages, the ViT's blocks' tokens on the patch grid) and its head on the last of them.
 */
export interface GradCamClassifier {
  readonly config: { readonly numClasses: number };
  features(image: tf.Tensor4D, training: boolean): tf.Tensor4D[];
  classify(lastFeatures: tf.Tensor4D): tf.Tensor2D;
}

/**
 * Grad-CAM on the classifier's last feature map (docs/algorithms.md#grad-cam): channel weights are
 * the spatial mean of d(logit of the class)/d(activation); the map is ReLU of the weighted sum,
 * scaled per image to [0, 1] (min subtracted, divided by max + 1e-7) and resized bilinearly to the
 * input size with half-pixel centres. Returns [B, H, W] maps for the given class of each image.
 */
export function gradCam(
  classifier: GradCamClassifier,
  images: tf.Tensor4D,
  classes: number[],
): tf.Tensor3D {
  const [batch, height, width] = images.shape;
  if (classes.length !== batch)
    throw new RangeError(`${classes.length} classes for ${batch} images`);
  return tf.tidy(() => {
    const activations = classifier.features(images, false).at(-1);
    if (!activations) throw new RangeError('the classifier has no feature maps');
    const numClasses = classifier.config.numClasses;
    const selector = tf.oneHot(tf.tensor1d(classes, 'int32'), numClasses);
    const gradients = tf.grad((a: tf.Tensor) =>
      tf.sum(tf.mul(classifier.classify(a as tf.Tensor4D), selector)),
    )(activations);
    const weights = tf.mean(gradients, [1, 2], true); // [B, 1, 1, C]
    const cam = tf.relu(tf.sum(tf.mul(weights, activations), -1, true)); // [B, h, w, 1]
    const shifted = tf.sub(cam, tf.min(cam, [1, 2, 3], true));
    const scaled = tf.div(shifted, tf.add(tf.max(shifted, [1, 2, 3], true), 1e-7)) as tf.Tensor4D;
    // Half-pixel centres, as OpenCV's resize in pytorch-grad-cam (and PyTorch's interpolate with
    // align_corners=False); TF's default would shift the map half a feature cell to the top-left.
    const resized = tf.image.resizeBilinear(scaled, [height, width], false, true);
    return tf.reshape(resized, [batch, height, width]) as tf.Tensor3D;
  });
}

/** The JET colour map at t in [0, 1], as OpenCV's COLORMAP_JET (blue -> cyan -> yellow -> red). */
export function jet(t: number): [number, number, number] {
  const channel = (offset: number) => Math.max(0, Math.min(1, 1.5 - Math.abs(4 * t - offset)));
  return [channel(3), channel(2), channel(1)];
}

/**
 * The heat map over the gray slice as in pytorch-grad-cam's show_cam_on_image:
 * 0.5 heat + 0.5 image, renormalised by the maximum. Inputs in [0, 1]; output RGB bytes.
 */
export function overlayHeatmap(gray: Float32Array, cam: Float32Array): Uint8Array {
  if (gray.length !== cam.length)
    throw new RangeError(`image has ${gray.length} pixels, map ${cam.length}`);
  const mixed = new Float32Array(gray.length * 3);
  let max = 0;
  for (let i = 0; i < gray.length; i++) {
    const heat = jet(cam[i] as number);
    for (let c = 0; c < 3; c++) {
      const value = 0.5 * heat[c] + 0.5 * (gray[i] as number);
      mixed[i * 3 + c] = value;
      if (value > max) max = value;
    }
  }
  return Uint8Array.from(mixed, (v) => Math.round((255 * v) / (max || 1)));
}
