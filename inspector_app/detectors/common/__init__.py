"""Parts more than one family uses: TensorFlow set-up, Keras progress, map smoothing, tiling, coreset."""
