import * as tf from '@tensorflow/tfjs-core';

// Silences tfjs's "install the node backend" banner; the backends under test are chosen explicitly.
tf.env().set('PROD', true);
