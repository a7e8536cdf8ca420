set datafile separator ','
set datafile columnheaders
set terminal png size 900,540 font ',11' noenhanced
set grid
set key outside right
set output 'ranker_loss.png'
set title 'ranker: training loss per step'
set xlabel 'step'
set ylabel 'loss'
set y2tics
set y2label 'learning rate'
plot 'ranker_train.csv' using 1:2 with lines lw 1 title 'loss', '' using 1:3 axes x1y2 with lines dt 2 title 'lr'
